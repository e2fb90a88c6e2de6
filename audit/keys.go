package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrNoController: the operation needs the controller's key ([Options]
// Controller on the device, an age identity for [Log.Export] and
// [Log.Erase]) and none was given, or the identity given opens no key.
var ErrNoController = errors.New("audit: no controller key")

// The key store holds the per-subject, per-month keys that encrypt
// personal records, each wrapped (age, X25519) to the controller's
// recipient, one per file: keys/<YYYY-MM>.<32 hex: random key ID>.age.
// The age plaintext is
//
//	oneface audit key v1
//	subject <32 hex>
//	epoch <YYYY-MM>
//	id <32 hex>
//	key <base64 of 32 bytes>
//
// The device keeps the unwrapped keys of this process's lifetime in
// memory only; it cannot unwrap a file, so after a restart a subject seen
// again gets a new key (and file) for the month. Only the controller's
// identity tells which files belong to whom: erasure unwraps them all and
// deletes those of the subject; retention deletes whole months by name.
type keyStore struct {
	dir        string
	controller *age.X25519Recipient // nil: personal records are not stored
	mu         sync.Mutex
	cache      map[string]*subjectKey // subject hex + epoch → key of this process
}

type subjectKey struct {
	id      [16]byte
	subject [16]byte
	epoch   string
	key     []byte
}

const (
	keyIntro      = "oneface audit key v1"
	maxKeyFile    = 4096
	controllerKey = "controller"
)

var keyFileRE = regexp.MustCompile(`^([0-9]{4}-[0-9]{2})\.([0-9a-f]{32})\.age$`)

func epochOf(t time.Time) string { return t.UTC().Format("2006-01") }

func keyFileName(epoch string, id [16]byte) string {
	return epoch + "." + hex.EncodeToString(id[:]) + ".age"
}

// current returns the subject's key for a month, creating and durably
// storing a new wrapped key on first use in this process.
func (s *keyStore) current(subject [16]byte, epoch string) (*subjectKey, error) {
	if s.controller == nil {
		return nil, ErrNoController
	}
	ck := hex.EncodeToString(subject[:]) + epoch
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.cache[ck]; ok {
		return k, nil
	}
	key := make([]byte, chacha20poly1305.KeySize)
	rand.Read(key)
	k, err := s.wrap(subject, epoch, key)
	if err != nil {
		return nil, err
	}
	s.cache[ck] = k
	return k, nil
}

// wrap stores key, wrapped to the controller, under a new random ID.
func (s *keyStore) wrap(subject [16]byte, epoch string, key []byte) (*subjectKey, error) {
	k := &subjectKey{subject: subject, epoch: epoch, key: key}
	rand.Read(k.id[:])
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, s.controller)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%s\nsubject %s\nepoch %s\nid %s\nkey %s\n", keyIntro, hex.EncodeToString(subject[:]), epoch,
		hex.EncodeToString(k.id[:]), base64.StdEncoding.EncodeToString(k.key))
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := writeAtomic(s.dir, keyFileName(epoch, k.id), buf.Bytes()); err != nil {
		return nil, err
	}
	return k, nil
}

// keyFile is one wrapped key file.
type keyFile struct {
	name  string
	epoch string
	id    [16]byte
}

// list returns the wrapped key files, sorted by name.
func (s *keyStore) list() ([]keyFile, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []keyFile
	for _, e := range ents {
		m := keyFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		kf := keyFile{name: e.Name(), epoch: m[1]}
		hex.Decode(kf.id[:], []byte(m[2]))
		out = append(out, kf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// unwrap opens one key file with the controller's identity.
func (s *keyStore) unwrap(kf keyFile, id age.Identity) (*subjectKey, error) {
	data, err := readSmallFile(filepath.Join(s.dir, kf.name), maxKeyFile)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(r, 512))
	if err != nil {
		return nil, &CorruptError{File: filepath.Join(keysDir, kf.name), Index: -1, Problem: err.Error()}
	}
	var sub, ep, kid, key string
	n, err := fmt.Sscanf(string(plain), keyIntro+"\nsubject %s\nepoch %s\nid %s\nkey %s\n", &sub, &ep, &kid, &key)
	k := &subjectKey{epoch: ep}
	raw, _ := hex.DecodeString(sub)
	copy(k.subject[:], raw)
	k.key, _ = base64.StdEncoding.Strict().DecodeString(key)
	if err != nil || n != 4 || len(raw) != 16 || ep != kf.epoch || kid != hex.EncodeToString(kf.id[:]) || len(k.key) != chacha20poly1305.KeySize {
		return nil, &CorruptError{File: filepath.Join(keysDir, kf.name), Index: -1, Problem: "wrapped key does not match its file name or is malformed"}
	}
	k.id = kf.id
	return k, nil
}

// unwrapAll opens every key file it can with the controller's identity.
// It returns the keys by ID and the names of the files it could not open
// (wrapped to another controller, or damaged).
func (s *keyStore) unwrapAll(id age.Identity) (map[[16]byte]*subjectKey, []string, error) {
	if id == nil {
		return nil, nil, fmt.Errorf("%w: an age identity of the controller is needed", ErrNoController)
	}
	files, err := s.list()
	if err != nil {
		return nil, nil, err
	}
	keys := map[[16]byte]*subjectKey{}
	var unknown []string
	for _, kf := range files {
		k, err := s.unwrap(kf, id)
		if err != nil {
			unknown = append(unknown, kf.name)
			continue
		}
		keys[kf.id] = k
	}
	if len(files) > 0 && len(keys) == 0 {
		return nil, unknown, fmt.Errorf("%w: the identity opens none of the %d key files", ErrNoController, len(files))
	}
	return keys, unknown, nil
}

// remove deletes key files and forgets the cached keys for which drop
// reports true, durably.
func (s *keyStore) remove(names []string, drop func(*subjectKey) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ck, k := range s.cache {
		if drop(k) {
			// Its file goes too, even if the caller's list (read before)
			// missed it: a key made by a concurrent append is erased with
			// the others. The bytes are not cleared in place: an append
			// may still be sealing with them, and a record sealed with a
			// zeroed key under a live ID would read as corrupt; the
			// dropped key is left to the garbage collector.
			names = append(names, keyFileName(k.epoch, k.id))
			delete(s.cache, ck)
		}
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(s.dir)
}

// Personal records (frames of the personal file). Version 2:
//
//	0x02 | entry index (8, big-endian) | key ID (16) | nonce (24) | XChaCha20-Poly1305 ciphertext
//
// with associated data "oneface audit personal v2" || index || key ID, of
// opening (32 bytes) || canonical personal part. Version 1 (before the
// controller key) had no version byte and no key ID: index | nonce |
// ciphertext, associated data "oneface audit personal v1" || index; its
// index's first byte is always 0.
var (
	personalADv1 = []byte("oneface audit personal v1")
	personalADv2 = []byte("oneface audit personal v2")
)

const personalV2 = 2

func sealPersonal(k *subjectKey, idx int64, plain []byte) []byte {
	aead, err := chacha20poly1305.NewX(k.key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	out := binary.BigEndian.AppendUint64([]byte{personalV2}, uint64(idx))
	out = append(out, k.id[:]...)
	ad := append(append([]byte(nil), personalADv2...), out[1:]...)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, ad)
}

// personalHeader reads a record's version, index and (v2) key ID.
func personalHeader(rec []byte) (version int, idx int64, id [16]byte, ok bool) {
	switch {
	case len(rec) >= 1+8+16+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead && rec[0] == personalV2:
		copy(id[:], rec[9:25])
		return 2, int64(binary.BigEndian.Uint64(rec[1:])), id, true
	case len(rec) >= 8+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead && rec[0] == 0:
		return 1, int64(binary.BigEndian.Uint64(rec)), id, true
	}
	return 0, 0, id, false
}

// openPersonal decrypts a v2 record (or, with v1 true, a v1 record) with a
// key; ok is false when the key does not fit.
func openPersonal(key, rec []byte) (idx int64, opening, personal []byte, ok bool) {
	version, idx, _, ok := personalHeader(rec)
	if !ok {
		return 0, nil, nil, false
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return 0, nil, nil, false
	}
	var ad, body []byte
	if version == 2 {
		ad = append(append([]byte(nil), personalADv2...), rec[1:25]...)
		body = rec[25:]
	} else {
		ad = binary.BigEndian.AppendUint64(append([]byte(nil), personalADv1...), uint64(idx))
		body = rec[8:]
	}
	nonce := body[:chacha20poly1305.NonceSizeX]
	plain, err := aead.Open(nil, nonce, body[chacha20poly1305.NonceSizeX:], ad)
	if err != nil || len(plain) < 32 {
		return 0, nil, nil, false
	}
	return idx, plain[:32], plain[32:], true
}

// isLegacyKeyName reports a v1 key file: keys/<YYYY-MM>.<32 hex>, 32 bytes
// of plain key.
var legacyKeyRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}\.[0-9a-f]{32}$`)

func isLegacyKeyName(name string) bool {
	return legacyKeyRE.MatchString(name) && !strings.HasSuffix(name, ".age")
}
