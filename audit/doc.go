// Package audit is oneface's tamper-evident, privacy-preserving record of
// consented use: a local, append-only Merkle log with signed checkpoints,
// receipts a person can check offline, subject access, and erasure that
// leaves every checkpoint valid. It is pure Go and knows nothing of faces:
// by construction an [Entry] holds only short tokens, so no image,
// descriptor or name can be logged.
//
// Most callers need [Open], [Log.Append] and, for auditors, [VerifyDir]
// and [CheckReceipt]. Keys are signed-note keys ([GenerateKey]) whose name
// is the log's origin, e.g. "kiosk-12.example.org"; the secret key stays
// on the device and must be kept secret, the public key goes to auditors.
//
// # Tree and checkpoints
//
// Entries are the leaves of an RFC 6962 Merkle tree computed with
// golang.org/x/mod/sumdb/tlog. After every commit the log signs a
// checkpoint in the C2SP tlog-checkpoint form (origin, size, base64 root)
// as a signed note (golang.org/x/mod/sumdb/note, Ed25519), parsed with
// github.com/transparency-dev/formats/log. Inclusion proofs
// ([Log.ProveInclusion]), consistency proofs ([Log.ProveConsistency],
// [CheckConsistency]) and receipts are plain tlog proofs.
//
// # Entry format (v1)
//
// Each leaf is text (see Record's marshal in entry.go for the exact
// layout): an intro line "oneface audit entry v1", then index, prev (the
// root of the tree before this entry), time, device, kind, purpose,
// decision, reason, model, library and commitment, one per line, in that
// order. Each entry's index and prev bind it to its position and to
// everything before it, so verification names the exact entry that was
// edited, removed, inserted or reordered. A v2 would use a new intro line.
//
// # Personal data
//
// The personal part of a record ([Personal]: reference ID, subject
// pseudonym, consent ID, notice version) never enters the tree. The entry
// holds HMAC-SHA256(opening, personal part) under a random 32-byte opening;
// the opening and the personal part are stored, encrypted with
// XChaCha20-Poly1305 under a key of that subject and month, in the
// "personal" file; the keys live one per file under keys/. Erasing a
// subject ([Log.Erase]: GDPR art. 17, consent withdrawal) or a month
// ([Log.Sweep]: retention, by default the CNIL's six months) deletes key
// files: the records under them become unreadable and the entries
// unattributable, while every checkpoint and receipt still verifies. As
// the EDPB asks, nothing personal is written into the immutable part.
// Deleted files may persist in a storage medium's free blocks: keep the log
// on an encrypted file system.
//
// # Durability
//
// [Log.Append] returns only after the personal record and then the entry
// are written and fsynced; concurrent appends share the writes and fsyncs
// (group commit). A crash can only leave an incomplete last batch: [Open]
// truncates such a torn tail (no acknowledged entry is ever in it) and
// re-verifies every entry, refusing a log that was altered. If a write
// fails, the batch is undone, Append returns an error — callers must then
// not act on the decision they wanted to record — and the log refuses
// further appends until reopened.
//
// # Files
//
//	entries      frames of v1 entries: length, payload, CRC-32C
//	personal     frames: entry index, nonce, encrypted opening and personal part
//	checkpoints  frames of signed checkpoints (re-signed on open if behind)
//	keys/        one 32-byte key per subject and month: YYYY-MM.<keyed handle>
//	side.secret  the key of the handles
//	lock         held by the process that has the log open
//
// Limits: entries are at most [MaxEntrySize] bytes; receipts at most
// [MaxReceiptSize]; the tree's stored hashes are kept in memory (64 bytes
// per entry: 6.4 MB per 100,000 entries).
package audit
