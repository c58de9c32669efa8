// Package secret seals the credentials idem keeps for talking to other
// servers (peers' bearer tokens and SMART private keys, subscription
// channel headers) before they are stored, and opens them for use.
//
// A sealed value is AES-256-GCM (Go's crypto/aes and crypto/cipher) under
// an operator's key, as text:
//
//	idem-sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//
// The key id names the key (a hash of it, never the key), so a keyring
// holding the current key and older ones opens values sealed under any of
// them while new values are sealed under the current one: keys rotate by
// re-sealing. Each value is bound to where it is stored (the additional
// data, e.g. "endpoint/7/bearer"), so a sealed value copied to another
// row does not open there.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value.
const prefix = "idem-sealed:v1:"

// ErrNoKey is returned when a value must be sealed or opened but no key
// is configured.
var ErrNoKey = errors.New("no secret key is configured (IDEM_SECRET_KEY or IDEM_SECRET_KEY_FILE)")

// ErrUnknownKey is returned (wrapped, naming the key id) when a value is
// sealed under a key the keyring does not hold.
var ErrUnknownKey = errors.New("sealed under a key that is not configured")

// ErrCorrupt is returned (wrapped) when a value does not open under the
// key its id names: it was altered, or sealed for another place.
var ErrCorrupt = errors.New("does not open")

// Keyring seals under its current key and opens under any of its keys.
// A nil *Keyring holds no key: it seals nothing and opens only "".
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

// NewKeyring returns a keyring sealing under current and also opening
// values sealed under old.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("a secret key is %d bytes (base64 of 32 random bytes), not %d", KeySize, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		if _, dup := k.keys[id]; !dup {
			k.keys[id] = aead
		}
	}
	return k, nil
}

// KeyID is the id a key is named by in sealed values: the first 8 bytes
// of a SHA-256 of it, in hex. It reveals nothing useful about the key.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("idem secret key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// Current returns the id of the key new values are sealed under ("" for
// a nil keyring).
func (k *Keyring) Current() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Has reports whether the keyring holds the key with id.
func (k *Keyring) Has(id string) bool {
	if k == nil {
		return false
	}
	_, ok := k.keys[id]
	return ok
}

// Seal seals plain for the place where (the additional data). An empty
// plain is stored as "" (no secret).
func (k *Keyring) Seal(plain, where string) (string, error) {
	if plain == "" {
		return "", nil
	}
	if k == nil {
		return "", ErrNoKey
	}
	aead := k.keys[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(plain), []byte(where))
	return prefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the plain value of sealed, stored at where. "" opens to "".
func (k *Keyring) Open(sealed, where string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	id, data, err := parse(sealed)
	if err != nil {
		return "", err
	}
	if k == nil {
		return "", fmt.Errorf("the secret of %s is sealed under key %s: %w", where, id, ErrNoKey)
	}
	aead, ok := k.keys[id]
	if !ok {
		return "", fmt.Errorf("the secret of %s is %w (key id %s): set that key as IDEM_SECRET_KEY, or as IDEM_SECRET_KEY_OLD while rotating", where, ErrUnknownKey, id)
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("the secret of %s %w under key %s: too short", where, ErrCorrupt, id)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(where))
	if err != nil {
		return "", fmt.Errorf("the secret of %s %w under key %s: altered, or sealed for another record", where, ErrCorrupt, id)
	}
	return string(plain), nil
}

// Reseal opens sealed and seals it again under the current key; a value
// already under the current key is returned unchanged (changed false).
func (k *Keyring) Reseal(sealed, where string) (out string, changed bool, err error) {
	if sealed == "" || SealedUnder(sealed) == k.Current() {
		return sealed, false, nil
	}
	plain, err := k.Open(sealed, where)
	if err != nil {
		return "", false, err
	}
	out, err = k.Seal(plain, where)
	return out, err == nil, err
}

// IsSealed reports whether s is a sealed value (as opposed to a plain one
// stored before sealing existed).
func IsSealed(s string) bool { return strings.HasPrefix(s, prefix) }

// SealedUnder returns the key id of a sealed value, "" for anything else.
func SealedUnder(s string) string {
	id, _, err := parse(s)
	if err != nil {
		return ""
	}
	return id
}

func parse(sealed string) (id string, data []byte, err error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", nil, errors.New("not a sealed secret")
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", nil, errors.New("a sealed secret without a key id")
	}
	data, err = base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("a sealed secret under key %s is not base64: %w", id, err)
	}
	return id, data, nil
}

// NewKey returns a fresh random key.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	_, err := rand.Read(key)
	return key, err
}

// ParseKey reads a key written as standard base64 (surrounding space
// ignored).
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("a secret key is base64 of 32 random bytes: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("a secret key is base64 of 32 random bytes, this one is %d bytes", len(key))
	}
	return key, nil
}

// EncodeKey writes key as ParseKey reads it.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }
