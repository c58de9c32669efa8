package secret

import (
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t *testing.T, cur []byte, old ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(cur, old...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	ring := mustRing(t, k1)
	const plain = "Bearer tok-0123456789"
	sealed, err := ring.Seal(plain, "endpoint/1/bearer")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, plain) || strings.Contains(sealed, "tok-") || !IsSealed(sealed) || SealedUnder(sealed) != KeyID(k1) {
		t.Fatalf("sealed value %q", sealed)
	}
	again, _ := ring.Seal(plain, "endpoint/1/bearer")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	cases := []struct {
		name   string
		ring   *Keyring
		sealed string
		where  string
		want   string
		err    error
	}{
		{"same key", ring, sealed, "endpoint/1/bearer", plain, nil},
		{"empty", ring, "", "x", "", nil},
		{"other place", ring, sealed, "endpoint/2/bearer", "", ErrCorrupt},
		{"wrong key", mustRing(t, k2), sealed, "endpoint/1/bearer", "", ErrUnknownKey},
		{"no key", nil, sealed, "endpoint/1/bearer", "", ErrNoKey},
		{"old key held", mustRing(t, k2, k1), sealed, "endpoint/1/bearer", plain, nil},
		{"altered", ring, sealed[:len(sealed)-3] + "AAA", "endpoint/1/bearer", "", ErrCorrupt},
		{"truncated", ring, prefix + KeyID(k1) + ":AAAA", "endpoint/1/bearer", "", ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.ring.Open(c.sealed, c.where)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("Open = %q, %v; want %q, %v", got, err, c.want, c.err)
			}
			if err != nil && strings.Contains(err.Error(), plain) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
	if _, err := (*Keyring)(nil).Seal(plain, "x"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("nil keyring sealed: %v", err)
	}
}

func TestReseal(t *testing.T) {
	old, cur := mustKey(t), mustKey(t)
	sealed, _ := mustRing(t, old).Seal("secret", "w")
	ring := mustRing(t, cur, old)
	out, changed, err := ring.Reseal(sealed, "w")
	if err != nil || !changed || SealedUnder(out) != KeyID(cur) {
		t.Fatalf("Reseal = %q, %v, %v", out, changed, err)
	}
	if got, err := mustRing(t, cur).Open(out, "w"); err != nil || got != "secret" {
		t.Fatalf("resealed value opens to %q, %v", got, err)
	}
	if same, changed, err := ring.Reseal(out, "w"); err != nil || changed || same != out {
		t.Fatalf("Reseal of a current value = %v, %v", changed, err)
	}
}

func TestParseKey(t *testing.T) {
	k := mustKey(t)
	if got, err := ParseKey(" " + EncodeKey(k) + "\n"); err != nil || string(got) != string(k) {
		t.Fatalf("ParseKey round trip: %v", err)
	}
	for _, bad := range []string{"", "not base64!", EncodeKey(k[:16])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if _, err := NewKeyring(k[:31]); err == nil {
		t.Error("NewKeyring took a 31-byte key")
	}
}

// BenchmarkSealOpen seals and opens a bearer token: the cost each pull,
// delivery and stored Endpoint pays.
func BenchmarkSealOpen(b *testing.B) {
	k, _ := NewKey()
	ring, _ := NewKeyring(k)
	for i := 0; i < b.N; i++ {
		s, err := ring.Seal("peer-token-0123456789abcdef", "endpoint/1/bearer")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ring.Open(s, "endpoint/1/bearer"); err != nil {
			b.Fatal(err)
		}
	}
}
