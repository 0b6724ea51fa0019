package jwks

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

func rules(err error) []string {
	var pe *PolicyError
	if !errors.As(err, &pe) {
		return nil
	}
	var out []string
	for _, v := range pe.Violations {
		out = append(out, v.Rule)
	}
	slices.Sort(out)
	return out
}

func TestVerifyGoldenDocumentPasses(t *testing.T) {
	doc, err := os.ReadFile("testdata/golden/testkeys.jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Verify(doc, sources.Origin{Source: "file:testkeys.jwks.json"}, VerifyOptions{Now: time.Now()})
	if err != nil {
		t.Fatalf("Verify(golden): %v", err)
	}
	if len(set.Keys) < 3 || len(set.Warnings) != 0 {
		t.Errorf("got %d keys, warnings %q", len(set.Keys), set.Warnings)
	}
	// What build writes, verify reads back to the same bytes.
	again, err := Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(doc) {
		t.Errorf("re-encoding the verified set changed it:\n%s\nwant\n%s", again, doc)
	}
}

func TestVerify(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakN := b64.EncodeToString(weak.N.Bytes())
	ec := `"kty":"EC","crv":"P-256","x":"GHvkirPyeNV9QOLnsDhahZossB-8w_lADYk6z6vazMs","y":"rIgvvskt-CroGkRBIq9SboFLuA_JtkE0VC71Q1_7RPY"`
	ed := `"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"`
	rsaGood := `"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB"`
	tests := []struct {
		name      string
		doc       string
		policy    Policy
		rules     []string // nil: passes
		warnings  int
		errSubstr string // a plain error, not a policy refusal
	}{
		{name: "good", doc: `{"keys":[{` + ec + `,"kid":"a","alg":"ES256","use":"sig"},{` + ed + `,"kid":"b","alg":"EdDSA","use":"sig"}]}`},
		{name: "missing kid alg use warns", doc: `{"keys":[{` + ec + `}]}`, warnings: 1},
		{name: "extra top-level member warns", doc: `{"keys":[{` + ec + `,"kid":"a","alg":"ES256","use":"sig"}],"x":1}`, warnings: 1},
		{name: "every violation at once", doc: `{"keys":[` +
			`{` + ec + `,"kid":"a","alg":"ES256","d":"AAAA"},` + // private member
			`{"kty":"RSA","n":"` + weakN + `","e":"AQAB","kid":"weak"},` + // short modulus
			`{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},` + // symmetric, with k
			`{` + ed + `,"kid":"b"},` +
			`{` + ec + `,"kid":"b"},` + // duplicate kid
			`{` + rsaGood + `,"kid":"rsa","alg":"ES256"},` + // alg for another kty
			`{"kty":"EC","crv":"P-256","x":"%%%","y":"AA","kid":"broken"},` + // not base64url
			`7` + // not an object
			`]}`,
			rules: []string{"alg-kty", "duplicate-kid", "jwk", "jwk", "private-member", "private-member", "rsa-min-bits", "symmetric-key"}},
		{name: "policy from the config", doc: `{"keys":[{` + ed + `,"kid":"b","alg":"EdDSA"}]}`, policy: Policy{AllowedAlgs: []string{"ES256"}}, rules: []string{"alg-not-allowed"}},
		{name: "max keys", doc: `{"keys":[{` + ec + `,"kid":"a"},{` + ed + `,"kid":"b"}]}`, policy: Policy{MaxKeys: 1}, rules: []string{"max-keys"}},
		{name: "empty set", doc: `{"keys":[]}`, rules: []string{"empty-set"}},
		{name: "single JWK is not a set", doc: `{` + ec + `}`, rules: []string{"jwks"}},
		{name: "keys not an array", doc: `{"keys":{}}`, rules: []string{"jwks"}},
		{name: "only unparseable keys", doc: `{"keys":[1]}`, rules: []string{"jwk"}},
		{name: "not JSON", doc: `-----BEGIN PUBLIC KEY-----`, errSubstr: "not a JSON object"},
		{name: "null", doc: `null`, errSubstr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Verify([]byte(tt.doc), sources.Origin{Source: "https://x/jwks.json"}, VerifyOptions{Policy: tt.policy})
			switch {
			case tt.errSubstr != "":
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) || rules(err) != nil {
					t.Fatalf("err = %v, want a plain error containing %q", err, tt.errSubstr)
				}
			case tt.rules != nil:
				if got := rules(err); !slices.Equal(got, tt.rules) {
					t.Fatalf("rules = %q, want %q\n%v", got, tt.rules, err)
				}
				if set != nil {
					t.Error("a refused document returned a set")
				}
			default:
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if len(set.Warnings) != tt.warnings {
					t.Errorf("warnings = %q, want %d", set.Warnings, tt.warnings)
				}
				if tt.name == "missing kid alg use warns" && set.Warnings[0] != "https://x/jwks.json key 1: no kid, alg, use member; verifiers may not select or accept this key" {
					t.Errorf("warning = %q", set.Warnings[0])
				}
			}
		})
	}
}

func TestVerifyNamesKeysAndNeverEchoesPrivateValues(t *testing.T) {
	doc := `{"keys":[{"kty":"EC","crv":"P-256","x":"GHvkirPyeNV9QOLnsDhahZossB-8w_lADYk6z6vazMs","y":"rIgvvskt-CroGkRBIq9SboFLuA_JtkE0VC71Q1_7RPY","kid":"leaky","d":"U0VDUkVUU0VDUkVUU0VDUkVU"}]}`
	_, err := Verify([]byte(doc), sources.Origin{Source: "file:live.json"}, VerifyOptions{})
	if err == nil {
		t.Fatal("a private member passed")
	}
	msg := err.Error()
	if !strings.Contains(msg, `file:live.json key 1: kid "leaky": private-member: input carries private member "d"`) {
		t.Errorf("message does not name source, key and rule:\n%s", msg)
	}
	if strings.Contains(msg, "U0VDUkVU") {
		t.Errorf("message echoes the private value:\n%s", msg)
	}
}

// FuzzVerify feeds arbitrary documents to Verify: it must never panic, a refusal must be a
// *PolicyError or a plain error, and a document it accepts must encode and pass
// CheckPublicOnly, as build's output does.
func FuzzVerify(f *testing.F) {
	if doc, err := os.ReadFile("testdata/golden/testkeys.jwks.json"); err == nil {
		f.Add(doc)
	}
	for _, s := range []string{
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"AA"}]}`,
		`{"keys":[{"kty":"oct","k":"AA"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},null,7]}`,
		`{"keys":{}}`, `{}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := Verify(doc, sources.Origin{Source: "fuzz"}, VerifyOptions{})
		if err != nil {
			return
		}
		if _, err := Encode(set, false); err != nil {
			t.Fatalf("accepted a document that does not encode: %v", err)
		}
	})
}
