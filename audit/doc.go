// Package audit is oneface's tamper-evident, privacy-preserving record of
// consented use: a local, append-only Merkle log with signed checkpoints,
// witnessing, receipts a person can check offline, subject access for the
// controller, and erasure that leaves every checkpoint valid. It is pure
// Go and knows nothing of faces: by construction an [Entry] holds only
// short tokens, so no image, descriptor or name can be logged.
//
// Most callers need [Open], [Log.AppendConfig] once at start-up,
// [Log.Append] per event and, for auditors, [VerifyLog] and
// [CheckReceipt]. Keys are signed-note keys ([GenerateKey]) whose name is
// the log's origin, e.g. "kiosk-12.example.org"; the secret key stays on
// the device and must be kept secret, the public key goes to auditors.
// The controller's age identity (whoever answers access and erasure
// requests) must never be on the device: the device gets only its
// recipient ([Options] Controller).
//
// # Threat model
//
// The attacker holds the kiosk's disk, its keys and its power switch.
// Without the keys they can still cut, edit or delete files; with them
// they can sign anything. Hence:
//
//   - The device never signs backwards. [Open] compares the log with
//     every checkpoint the device signed (its checkpoints file, and a copy
//     on separate storage, Options.StatePath) and refuses a log shorter
//     than the last one, a changed byte inside what it covers, a
//     checkpoint of another history, or a missing checkpoints file beside
//     entries ([ErrRollback], [ErrFork], [ErrCorrupt], each a
//     *[CorruptError] naming the entry). Only bytes past the last signed
//     checkpoint are a crash's torn tail. An attacker who rewrites the
//     directory and the state copy consistently, or who has the signing
//     key, is caught only by checkpoints held elsewhere: witnesses.
//   - Witnesses (C2SP tlog-witness) cosign checkpoints: see below.
//   - Personal records are encrypted under keys wrapped to the controller:
//     a copy of the directory reveals no reference ID, pseudonym or
//     consent nonce, and the device cannot read back what it wrote.
//   - The directory is not trusted: it must belong to the process's user
//     and not be writable by group or others ([ErrUnsafeDir]); files are
//     opened without following symbolic links (and must not be hard
//     links), created exclusively under random temporary names and
//     replaced by atomic renames, so a planted link cannot redirect a
//     write.
//
// # Tree and checkpoints
//
// Entries are the leaves of an RFC 6962 Merkle tree computed with
// golang.org/x/mod/sumdb/tlog. After every commit the log signs a
// checkpoint in the C2SP tlog-checkpoint form (origin, size, base64 root)
// as a signed note (golang.org/x/mod/sumdb/note, Ed25519), parsed with
// github.com/transparency-dev/formats/log; checkpoints with C2SP extension
// lines (signed by the log) are accepted. Inclusion proofs
// ([Log.ProveInclusion]), consistency proofs ([Log.ProveConsistency],
// [CheckConsistency]) and receipts are plain tlog proofs.
//
// # Witnessing
//
// With Options.Witnesses, the log submits its latest checkpoint (every
// checkpoint, every N entries or every T: [WitnessPolicy]) in the
// background to each [Witness], which checks a consistency proof from the
// last checkpoint it cosigned and returns cosignature lines. The log keeps
// the cosigned checkpoints in witnessed/ ([Log.Witnessed],
// [LatestWitnessed]), and [Open] compares the log with the latest of them
// as with its own checkpoints: a log shorter than a cosigned checkpoint
// is [ErrRollback], another history [ErrFork], even when the checkpoints
// file and the StatePath copy were rolled back with it. A refusal
// ([ErrWitnessRefused]) is logged, reported by [Log.WitnessErr], recorded
// in the file witness-refused before [Log.Witness] returns, and stops
// appends ([ErrFailed]) — after a restart too — until an operator calls
// [AcknowledgeWitnessRefusal]: the device's history disagrees with what a
// third party saw, and recording more decisions into it would hide that.
// An unreachable witness only delays witnessing.
//
// A witness proves that the log showed it one linear history: anyone
// holding a cosigned checkpoint can detect a later rollback or fork
// ([VerifyLog] with MinCosignatures), even if the attacker has the
// device's signing key. A witness does not prove that the entries are
// true (a device with a stolen key can log lies consistently), that the
// log showed the same history to everyone else (that needs several
// witnesses that gossip), or anything about entries appended after its
// last cosignature.
//
// # Entry format
//
// Each leaf is text, one "key value" line per field in a fixed order,
// starting with an intro line that names the version. New entries are v3:
//
//	oneface audit entry v3
//	index 1
//	prev dQoX9b/Ps4DHUHneEGR9TUMyjNhPzW7QCLOEVKj2SHk=
//	time 2026-11-30T09:15:02Z
//	device kiosk-7.example
//	kind verify
//	purpose door-main
//	decision match
//	reason ok
//	model 22f8e3a4c14b119fcd91c04df60f2202
//	liveness passive
//	notice notice-2026-11
//	detail -
//	library oneface/0.3.0
//	commitment CQFulo9Sl6OI1JYxc4TpTHhiS0QcUHUwYulPdzl1dMI=
//
// index is the leaf's position; prev the base64 root of the tree of the
// entries before it (so verification names the exact entry that was
// edited, removed, inserted or reordered); time RFC 3339 UTC seconds;
// every other value a token of 1..64 characters of [A-Za-z0-9._:/+=-], or
// "-"; commitment is the base64 HMAC-SHA256 of the personal part under a
// random 32-byte opening, or "-". Entries written before still parse and
// verify, byte for byte as they were written: v2 entries have the intro
// "oneface audit entry v2" and spell the decision no_match "no-match"
// (read as [DecisionNoMatch]); v1 entries also have no liveness, notice
// and detail lines. A change of lines or spellings is a new intro line
// (v4), never an edit of an older version.
//
// Kinds and their schema (decision is "none" for every kind but verify):
//
//	verify             a 1:1 comparison attempt; decision match, no_match or refused;
//	                   reason code; model, liveness mode, notice version; personal part
//	enroll             a reference was issued; purpose(s), model; personal part
//	revoke             a reference was revoked; reason code; personal part (reference, subject)
//	consent-withdrawn  a person withdrew consent; reason code; personal part
//	erase              a subject's keys were deleted (Log.Erase); reason code; no personal part,
//	                   so the entry does not say whose
//	config             the policy at start-up (Log.AppendConfig); reason "startup"; liveness;
//	                   detail "fmr=<float> liveness=<token> lockout=<failures>/<seconds>s
//	                   notice=<token>... [pad=<threshold>/<shipped|site>] calibration=<64 hex or ->", e.g.
//	                   "fmr=0.0001 liveness=passive lockout=5/900s notice=notice-2026-11 calibration=-";
//	                   no personal part ([Record.Policy] decodes it)
//	retention-sweep    a retention sweep ran (Log.Sweep, every time); reason "retention";
//	                   detail "retention=<seconds>s before=<YYYY-MM> keys=<deleted> months=<n>"
//
// Entries of the other kinds (v3) may carry the detail "policy=<32 hex>":
// the [PolicySummary.Hash] of the config entry they were made under
// ([Entry].Policy), so an auditor reads each decision under its own
// policy even when several devices share a log.
//
// # Personal data
//
// The personal part ([Personal]) never enters the tree. Its canonical text
// (v2; v1 lacked the last two lines) is what the commitment covers:
//
//	oneface audit personal v2
//	reference 5e1f0000000000000000000000000000
//	subject c04a0000000000000000000000000000
//	consent 9d000000000000000000000000000000
//	notice notice-2026-11
//	notice-hash 0000000000000000000000000000000000000000000000000000000000000000
//	consent-at 2026-11-30T09:14:59Z
//
// The opening and the personal part are stored, encrypted with
// XChaCha20-Poly1305 under a key of that subject and month, as a record
// of the "personal" file:
//
//	0x02 | entry index (8 bytes, big-endian) | key ID (16) | nonce (24) | ciphertext of opening (32) || personal part
//
// with associated data "oneface audit personal v2" || index || key ID.
// Each key is wrapped with age (X25519) to the controller's recipient in
// keys/<YYYY-MM>.<key ID hex>.age and kept unwrapped only in the device's
// memory; after a restart a subject seen again gets a new key. [Log.Export]
// and [Log.Erase] take the controller's age identity: erasure (GDPR
// art. 17, consent withdrawal) unwraps every key file, deletes those of
// the subject and forgets the subject's keys in memory; [Log.Sweep]
// (retention, by default the CNIL's six months) deletes whole months by
// file name. The records under deleted keys become unreadable and their
// entries unattributable, while every checkpoint and receipt still
// verifies. As the EDPB asks, nothing personal is written into the
// immutable part. Deleted files may persist in a storage medium's free
// blocks: keep the log on an encrypted file system.
//
// Without a controller, personal parts are only committed: the person's
// receipt opens them, nothing else does.
//
// # Receipts
//
// A receipt (v1) is the entry, its inclusion proof and the checkpoint,
// plus the opening when the entry has a personal part:
//
//	oneface audit receipt v1
//	entry <base64 of the entry text>
//	opening <base64 opening> <base64 personal part>      (or "opening -")
//	proof 1
//	dQoX9b/Ps4DHUHneEGR9TUMyjNhPzW7QCLOEVKj2SHk=
//	<empty line>
//	kiosk-7.example
//	2
//	9BYzl2SNx+HXNC7sPY2QFoABwFmQ+ESJFHMEWis3/Hw=
//	<empty line>
//	— kiosk-7.example HlOsnEjhDD8BevxeSYfO2sZ7IT82mI0leb30c/oP7VvX759BDOzcrtf36l/ixGJltw1mPvv2McHpi+hl021WKmvUjwA=
//
// Receipts and checkpoints given to [CheckReceipt], [CheckConsistency] and
// [VerifyLog] are first normalised (CRLF to LF, trailing spaces and tabs
// removed, exactly one final newline); the signature is checked over the
// canonical text, and any other change is an error naming the line.
//
// # Durability
//
// [Log.Append] returns only after the personal record and then the entry
// are written and fsynced and their checkpoint is signed; concurrent
// appends share the writes and fsyncs (group commit). A crash can only
// leave an incomplete last batch, past every signed checkpoint: [Open]
// cuts such a torn tail (no acknowledged entry is ever in it). If a write
// fails, the batch is undone, Append returns an error — callers must then
// not act on the decision they wanted to record — and the log refuses
// further appends until reopened.
//
// # Files
//
//	entries       frames of entries: length (4, big-endian), payload, CRC-32C (4)
//	personal      frames of encrypted personal records
//	checkpoints   frames of every checkpoint the device signed
//	controller    the controller's age recipient
//	keys/         wrapped subject keys: <YYYY-MM>.<key ID>.age
//	witnessed/    cosigned checkpoints, named by size (20 digits)
//	witness-refused  a witness's refusal no operator acknowledged yet
//	refusals/     acknowledged refusals, with the operator's note
//	lock          held by the process that has the log open
//
// # Migration from 0.1
//
// Logs written by version 0.1 kept subject keys in plain files and a
// side.secret beside the records. Opening one with a controller (given in
// Options, or recorded) wraps each key that still opens records to the
// controller, re-seals those records in the v2 record form (the entries,
// and so every checkpoint and receipt, are untouched), replaces the
// personal file atomically, then deletes the plain keys and side.secret.
// A crash part-way is finished by the next Open. Without a controller such
// a log is refused ([ErrNoController]).
//
// Limits: entries are at most [MaxEntrySize] bytes; receipts at most
// [MaxReceiptSize]; the tree's stored hashes are kept in memory (64 bytes
// per entry: 6.4 MB per 100,000 entries) by an open [Log] and by
// [ExportTiles] (they are the tiles), never by the auditor's readers.
//
// # Files from outside
//
// A copied log directory and an auditor's evidence are outside input.
// [VerifyLog], [VerifyDir], [Entries], [ReadEntries], [LatestCheckpoint],
// [LatestWitnessed], [ExportTiles] and [Open] accept only regular files:
// a FIFO is refused at once (opened non-blocking), a symbolic link in
// place of a log file is not followed, a device is refused; errors name
// the file and match [ErrNotRegular] ([ErrUnsafeDir] for [Open]). The entries and checkpoints files are streamed frame by frame
// (frames are at most 4,096 bytes; after a bad frame at most one commit
// batch, 266,760 bytes, is read to tell a torn tail from corruption), so
// the auditor's memory does not grow with the file: VerifyLog holds one
// frame, the O(log n) right edge of the tree, and the checkpoints it was
// given or found (each at most [MaxReceiptSize] bytes, at most 100,000
// evidence files). A 3 GiB sparse entries file costs VerifyLog 0.7 MiB of
// allocation and is reported as a bad frame after the genuine entries
// (TestAuditorSparseFileBoundedMemory).
package audit
