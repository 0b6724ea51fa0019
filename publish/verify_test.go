package publish

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

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

func TestCheckFetchURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.com/.well-known/jwks.json", true},
		{"http://127.0.0.1:8080/jwks.json", true},
		{"http://[::1]:8080/jwks.json", true},
		{"http://localhost/jwks.json", true},
		{"http://auth.example.com/.well-known/jwks.json", false},
		{"http://10.0.0.1/jwks.json", false},
		{"http://127.0.0.1.example.com/jwks.json", false},
		{"ftp://auth.example.com/jwks.json", false},
		{"file:///etc/jwks.json", false},
		{"https:///jwks.json", false},
	}
	for _, tt := range tests {
		err := CheckFetchURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckFetchURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	if err := CheckFetchURL("http://auth.example.com/jwks.json"); !errors.Is(err, ErrInsecureURL) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("refusal does not say why: %v", err)
	}
}

// TestFetch uses httptest to inject the server's faults.
func TestFetch(t *testing.T) {
	doc := `{"keys":[]}`
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, doc) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat(" ", 1<<20)
		for range MaxDocumentSize>>20 + 1 {
			fmt.Fprint(w, chunk)
		}
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://jwks.example.com/jwks.json", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	ctx := context.Background()

	got, err := Fetch(ctx, srv.Client(), srv.URL+"/jwks.json")
	if err != nil || string(got) != doc {
		t.Fatalf("Fetch(loopback http) = %q, %v", got, err)
	}
	if got, err := Fetch(ctx, tls.Client(), tls.URL+"/jwks.json"); err != nil || string(got) != doc {
		t.Fatalf("Fetch(https) = %q, %v", got, err)
	}
	for _, tt := range []struct{ path, want string }{
		{"/missing", "status 404"},
		{"/huge", "larger than"},
		{"/to-http", "insecure JWKS URL"},
	} {
		if _, err := Fetch(ctx, tls.Client(), tls.URL+tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Fetch(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fetch(cctx, srv.Client(), srv.URL+"/jwks.json"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fetch = %v", err)
	}
}

// tokenKeys makes one key of each kind and the set that publishes them.
func tokenKeys(t *testing.T) (map[string]crypto.Signer, *Set) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, okp, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signers := map[string]crypto.Signer{"rsa": rk, "ec": ek, "ed": okp}
	var keys []sources.Key
	for _, kid := range []string{"rsa", "ec", "ed"} {
		k, err := sources.FromPublicKey(signers[kid].Public())
		if err != nil {
			t.Fatal(err)
		}
		k.KID = kid
		keys = append(keys, k)
	}
	return signers, mustAssemble(t, keys, AssembleOptions{})
}

func sign(t *testing.T, key crypto.Signer, alg jwa.SignatureAlgorithm, kid string, exp, nbf time.Time) string {
	t.Helper()
	tok := jwt.New()
	_ = tok.Set(jwt.IssuerKey, "https://auth.example.com")
	_ = tok.Set(jwt.SubjectKey, "user-1")
	if !exp.IsZero() {
		_ = tok.Set(jwt.ExpirationKey, exp)
	}
	if !nbf.IsZero() {
		_ = tok.Set(jwt.NotBeforeKey, nbf)
	}
	hdr := jws.NewHeaders()
	if kid != "" {
		_ = hdr.Set(jws.KeyIDKey, kid)
	}
	out, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestVerifyToken(t *testing.T) {
	signers, set := tokenKeys(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	// A token signed by a key that is not in the set, under a kid that is.
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  string // "" = verifies
	}{
		{"RS256", sign(t, signers["rsa"], jwa.RS256, "rsa", later, time.Time{}), ""},
		{"ES256 with nbf", sign(t, signers["ec"], jwa.ES256, "ec", later, earlier), ""},
		{"EdDSA", sign(t, signers["ed"], jwa.EdDSA, "ed", later, time.Time{}), ""},
		{"expired", sign(t, signers["ec"], jwa.ES256, "ec", earlier, time.Time{}), "token expired"},
		{"not yet valid", sign(t, signers["ec"], jwa.ES256, "ec", later.Add(time.Hour), later), "not valid yet"},
		{"no exp", sign(t, signers["ec"], jwa.ES256, "ec", time.Time{}, time.Time{}), "no exp claim"},
		{"alg other than the key's", sign(t, signers["rsa"], jwa.PS256, "rsa", later, time.Time{}), `token alg "PS256" does not match alg RS256 of kid "rsa"`},
		{"unknown kid", sign(t, signers["ec"], jwa.ES256, "gone", later, time.Time{}), `kid "gone" is not in the set`},
		{"no kid", sign(t, signers["ec"], jwa.ES256, "", later, time.Time{}), "no kid"},
		{"wrong key", sign(t, stranger, jwa.ES256, "ec", later, time.Time{}), "signature does not verify"},
		{"not a JWS", "not.a.token", "not a compact JWS"},
		{"empty", "", "not a compact JWS"},
	}
	// alg none with a kid from the set must never pass.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"ec"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, later.Unix()))) + "."
	tests = append(tests, struct{ name, token, want string }{"alg none", none, "token rejected"})
	// A tampered payload.
	good := sign(t, signers["ed"], jwa.EdDSA, "ed", later, time.Time{})
	parts := strings.Split(good, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d,"sub":"admin"}`, later.Unix())))
	tests = append(tests, struct{ name, token, want string }{"tampered", strings.Join(parts, "."), "signature does not verify"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := VerifyToken(set, tt.token, TokenOptions{Now: now})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("VerifyToken: %v", err)
				}
				if res.Subject != "user-1" || !res.Expires.Equal(later) {
					t.Errorf("result = %+v", res)
				}
				return
			}
			if !errors.Is(err, ErrTokenRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrTokenRejected with %q", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error echoes the token")
			}
		})
	}
	// Skew tolerates a token that expired a moment ago.
	if _, err := VerifyToken(set, sign(t, signers["ec"], jwa.ES256, "ec", now.Add(-time.Second), time.Time{}), TokenOptions{Now: now, Skew: time.Minute}); err != nil {
		t.Errorf("skew: %v", err)
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
