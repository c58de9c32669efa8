package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	// Argon2id is the password hash OWASP recommends first; x/crypto is the
	// Go team's implementation (the standard library has none).
	"golang.org/x/crypto/argon2"
)

// TokenPrefix starts every bearer token idem issues, so a leaked one is
// recognisable (secret scanners, logs).
const TokenPrefix = "idem_"

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics if the OS has no randomness)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newToken returns a bearer token: 32 random bytes.
func newToken() string { return TokenPrefix + randomString(32) }

// hashSecret is how tokens and session ids are stored: SHA-256 suffices for
// 256-bit random secrets (nothing to brute-force), and it is fast enough to
// run on every request.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// GeneratePassword returns a random password (24 characters, 144 bits).
func GeneratePassword() string { return randomString(18) }

// Equal compares two secrets (such as CSRF tokens) in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Argon2id parameters: OWASP's first recommendation (19 MiB, 2 passes, 1
// lane). They are stored with each hash, so raising them later keeps old
// hashes verifiable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	minPassword  = 12
)

// hashPassword returns a PHC-format argon2id hash of pw.
func hashPassword(pw string) (string, error) {
	if len(pw) < minPassword {
		return "", errorf(ErrInvalid, "a password needs at least %d characters", minPassword)
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("unrecognised password hash")

// checkPassword reports whether pw matches the stored hash.
func checkPassword(stored, pw string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var mem, iter uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &threads); err != nil {
		return false, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(pw), salt, iter, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when a login names no known user, so that an
// unknown user costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword(GeneratePassword())
	return h
})
