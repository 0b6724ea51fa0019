package sources

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"golang.org/x/crypto/ssh"
)

// privateJWK is a private key as a JWK's members, the way jwx (and most libraries) write it.
func privateJWK(t *testing.T, priv crypto.PrivateKey) map[string]any {
	t.Helper()
	k, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mixed returns a's members with the named ones taken from b.
func mixed(a, b map[string]any, from ...string) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for _, name := range from {
		out[name] = b[name]
	}
	return out
}

func without(a map[string]any, names ...string) map[string]any {
	out := mixed(a, nil)
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// TestDerivePublicChecksThePair: --derive-public publishes only a public key the private part
// determines. A JWK whose d belongs to another key would publish a key that fails every token.
func TestDerivePublicChecksThePair(t *testing.T) {
	k := newTestKeys(t)
	other := newTestKeys(t)
	rsaA, rsaB := privateJWK(t, k.rsa), privateJWK(t, other.rsa)
	ecA, ecB := privateJWK(t, k.p256), privateJWK(t, other.p256)
	p521A, p521B := privateJWK(t, k.p521), privateJWK(t, other.p521)
	edA, edB := privateJWK(t, k.ed), privateJWK(t, other.ed)

	tests := []struct {
		name     string
		jwk      map[string]any
		mismatch bool
	}{
		{"rsa with primes", rsaA, false},
		{"rsa without primes", without(rsaA, "p", "q", "dp", "dq", "qi"), false},
		{"rsa d of another key", without(mixed(rsaA, rsaB, "d"), "p", "q", "dp", "dq", "qi"), true},
		{"rsa primes of another key", mixed(rsaA, rsaB, "p", "q"), true},
		{"rsa n of another key", mixed(rsaA, rsaB, "n"), true},
		{"p-256", ecA, false},
		{"p-256 d of another key", mixed(ecA, ecB, "d"), true},
		{"p-256 d zero", mixed(ecA, map[string]any{"d": "AA"}, "d"), true},
		{"p-521", p521A, false},
		{"p-521 x and y of another key", mixed(p521A, p521B, "x", "y"), true},
		{"ed25519", edA, false},
		{"ed25519 seed of another key", mixed(edA, edB, "d"), true},
		{"ed25519 short seed", mixed(edA, map[string]any{"d": "AAAA"}, "d"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := json.Marshal(tt.jwk)
			var logs bytes.Buffer
			keys, err := Parse(in, Origin{Source: "file:pair.json"}, Options{DerivePublic: true, Logger: slogTo(&logs)})
			if tt.mismatch {
				var se *Error
				if !errors.Is(err, ErrPrivateMismatch) || !errors.As(err, &se) || se.Fix == "" || !strings.Contains(err.Error(), "file:pair.json") {
					t.Fatalf("err = %v, want a private-mismatch naming the source, with a fix", err)
				}
				if strings.Contains(logs.String(), "derived") {
					t.Errorf("logged a derivation that failed its check: %q", logs.String())
				}
				assertNoSecret(t, err.Error()+logs.String(), string(in))
				return
			}
			if err != nil || len(keys) != 1 || !keys[0].Derived {
				t.Fatalf("Parse = %+v, %v; want one derived key", keys, err)
			}
			if !strings.Contains(logs.String(), "derived public key") {
				t.Errorf("derivation not logged: %q", logs.String())
			}
		})
	}
}

// TestDerivePublicOpenSSHPair: an OpenSSH private key file carries the public key beside the
// seed, and the parser takes it as written; a file glued from two keys is refused.
func TestDerivePublicOpenSSHPair(t *testing.T) {
	_, a, _ := ed25519.GenerateKey(rand.Reader)
	_, b, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(a, "")
	if err != nil {
		t.Fatal(err)
	}
	good := pem.EncodeToMemory(block)
	if _, err := Parse(good, Origin{Source: "file:id_ed25519"}, Options{DerivePublic: true}); err != nil {
		t.Fatalf("a genuine OpenSSH key: %v", err)
	}
	block.Bytes = bytes.ReplaceAll(block.Bytes, a[32:], b[32:])
	_, err = Parse(pem.EncodeToMemory(block), Origin{Source: "file:id_ed25519"}, Options{DerivePublic: true})
	if !errors.Is(err, ErrPrivateMismatch) {
		t.Fatalf("err = %v, want a private-mismatch", err)
	}
}

// TestCheckPrivateECDSAFromParsers: keys parsed from PKCS#8 and SEC 1 have their public point
// computed from d, so they pass; a hand-built key with the wrong point does not.
func TestCheckPrivateECDSA(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err := checkPrivate(a); err != nil {
		t.Fatalf("a genuine key: %v", err)
	}
	glued := &ecdsa.PrivateKey{PublicKey: b.PublicKey, D: a.D}
	if err := checkPrivate(glued); !errors.Is(err, ErrPrivateMismatch) {
		t.Fatalf("err = %v, want a private-mismatch", err)
	}
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2 := *r
	r2.D = b.D // any other number
	r2.Primes = nil
	if err := checkPrivate(&r2); !errors.Is(err, ErrPrivateMismatch) {
		t.Fatalf("rsa with a foreign d: err = %v, want a private-mismatch", err)
	}
}
