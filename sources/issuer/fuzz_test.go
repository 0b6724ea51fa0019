package issuer

import (
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/sources"
)

// FuzzParseDocument: an issuer's answer never panics the parser, every refusal names the URL,
// and what is accepted is either keys without private members or a jwks_uri the https rule
// allows.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"a"}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}]}`,
		`{"keys":[{"kid":"a"},{"kid":"a"}]}`,
		`{"jwks_uri":"https://issuer.example/keys"}`,
		`{"jwks_uri":"http://issuer.example/keys"}`,
		`<!doctype html>`, `{"keys":null}`, `{"keys":{}}`, `[]`, ``,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"keys":[]}`), "text/html")
	const src = "https://issuer.example/jwks"
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		doc, err := ParseDocument(body, ctype, sources.Origin{Source: src}, sources.Options{DerivePublic: true})
		if err != nil {
			if !strings.Contains(err.Error(), src) {
				t.Fatalf("error %q does not name the URL", err)
			}
			return
		}
		if doc.JWKSURI != "" {
			if CheckURL(doc.JWKSURI) != nil || len(doc.Keys) > 0 {
				t.Fatalf("accepted jwks_uri %q with %d keys", doc.JWKSURI, len(doc.Keys))
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range doc.Keys {
			for _, m := range k.Members {
				if sources.IsPrivateMember(m) {
					t.Fatalf("accepted a key with private member %q", m)
				}
			}
			if k.KID != "" && seen[k.KID] {
				t.Fatalf("accepted kid %q twice", k.KID)
			}
			seen[k.KID] = true
		}
	})
}
