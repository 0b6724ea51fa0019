package jwks

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/sources"
)

// FuzzParseLive: the live document may have been written by anything.
func FuzzParseLive(f *testing.F) {
	doc, _ := Encode(rotKeys(f, 1, 2), false)
	f.Add(doc)
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","x5c":["AAAA"]}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"e","crv":"P-256","x":"","y":"=="}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseLive(data)
		if err != nil {
			return
		}
		for _, k := range keys {
			if k.KID == "" || k.Thumbprint == "" {
				t.Fatalf("accepted a key without kid or thumbprint: %+v", k)
			}
		}
	})
}

func TestParseLive(t *testing.T) {
	set := rotKeys(t, 1, 2)
	doc, _ := Encode(set, true)
	got, err := ParseLive(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, LiveKeys(set)) {
		t.Errorf("ParseLive = %+v, want %+v", got, LiveKeys(set))
	}
	for _, tt := range []struct{ in, err string }{
		{`[]`, "not a JWK Set"},
		{`{}`, `no "keys" array`},
		{`{"keys":[{"kty":"OKP","x":"AA"}]}`, "has no kid"},
		{`{"keys":[{"kty":"oct","kid":"s","k":"AA"}]}`, `unsupported kty "oct"`},
		{`{"keys":[{"kty":"OKP","kid":"a","x":"!!"}]}`, "not base64url"},
		{`{"keys":[{"kty":"OKP","kid":"a","x":"AA"},{"kty":"OKP","kid":"a","x":"AB"}]}`, "appears twice"},
	} {
		if _, err := ParseLive([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseLive(%s) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// rotKeys is an Ed25519 set from seeds, kids k<seed>, every key from the source
// file:keys/*.pem (as internal/testkeys.Rot makes them, which this package's tests cannot
// import: it imports jwks).
func rotKeys(t testing.TB, seeds ...byte) *Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", s),
			Origin: sources.Origin{Source: fmt.Sprintf("file:keys/k%d.pem", s), Location: "block 1"}})
	}
	set, err := Assemble(keys, AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Keys {
		set.Keys[i].Spec = "file:keys/*.pem"
	}
	return set
}
