//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for ES384 and ES512
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// signer is a private key the test signs tokens with; its public half is published.
type signer struct {
	name string // also the key file's name
	alg  string
	key  crypto.Signer
	kid  string // filled from the assembled set
}

// rsaKey, ecKey and edKey make fresh private keys for tests.
func rsaKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T, c elliptic.Curve) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t *testing.T) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigners(t *testing.T) []*signer {
	t.Helper()
	return []*signer{
		{name: "rs256-old", alg: "RS256", key: rsaKey(t)},
		{name: "rs256-new", alg: "RS256", key: rsaKey(t)}, // a rotation: two RS256 keys live
		{name: "ps256", alg: "PS256", key: rsaKey(t)},
		{name: "es256", alg: "ES256", key: ecKey(t, elliptic.P256())},
		{name: "es384", alg: "ES384", key: ecKey(t, elliptic.P384())},
		{name: "es512", alg: "ES512", key: ecKey(t, elliptic.P521())},
		{name: "eddsa", alg: "EdDSA", key: edKey(t)},
	}
}

// publishSigners builds the set the way `jwkspub render` does: public PEM files read by file:
// sources with the alg configured per source, kids from the RFC 7638 thumbprint.
func publishSigners(t *testing.T, signers []*signer, set *config.SetConfig) *jwks.Set {
	t.Helper()
	dir := t.TempDir()
	var srcs []sources.Source
	for _, s := range signers {
		der, err := x509.MarshalPKIXPublicKey(s.key.Public())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, s.name+".pub.pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		spec := sources.Spec{Spec: "file:" + path, Alg: s.alg}
		set.Sources = append(set.Sources, config.SourceConfig{Spec: spec})
		src, err := sources.New(spec, sources.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	built, err := publish.Build(context.Background(), publish.BuildOptions{Set: set, Sources: srcs, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	findKIDs(t, built, signers)
	return built
}

// findKIDs sets each signer's kid from the built set, where its public key must be published
// with its alg.
func findKIDs(t *testing.T, built *jwks.Set, signers []*signer) {
	t.Helper()
	for _, s := range signers {
		for _, k := range built.Keys {
			pub, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(s.key.Public()) {
				s.kid = k.KID
				if k.Alg != s.alg {
					t.Fatalf("%s published with alg %s, want %s", s.name, k.Alg, s.alg)
				}
			}
		}
		if s.kid == "" {
			t.Fatalf("%s is not in the published set", s.name)
		}
	}
}

var b64 = base64.RawURLEncoding

// signJWT makes a compact JWS by hand with the standard library, so that no verifier under
// test also signs. key is a crypto.Signer, or []byte for HS256; alg "none" signs nothing.
func signJWT(t *testing.T, alg, kid string, key any) string {
	t.Helper()
	hdr := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	now := time.Now().Unix()
	claims := map[string]any{"iss": "http://127.0.0.1", "sub": "integration", "iat": now, "exp": now + 600}
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := func(hf crypto.Hash) []byte {
		hh := hf.New()
		hh.Write([]byte(input))
		return hh.Sum(nil)
	}
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest(crypto.SHA256))
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest(crypto.SHA256), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256", "ES384", "ES512":
		hf, size := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg], map[string]int{"ES256": 32, "ES384": 48, "ES512": 66}[alg]
		r, s, e := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest(hf))
		err = e
		sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		t.Fatalf("signJWT: alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// tokenCase is one token and what each verifier must do with it.
type tokenCase struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	// want is true when the token must verify, per verifier; a missing verifier takes def.
	def  bool
	want map[string]bool
}

func (c tokenCase) wants(verifier string) bool {
	if w, ok := c.want[verifier]; ok {
		return w
	}
	return c.def
}

// result is one verifier's verdict on one token.
type result struct {
	OK    bool   `json:"ok"`
	KID   string `json:"kid"`
	Error string `json:"error"`
}

// Verifier names; each fetches the JWKS with its own query string so the access log shows it.
const (
	vJose  = "jose"
	vPyJWT = "pyjwt"
	vJWX   = "jwx"
	// vJWXDefault is jwx with WithUseDefault(true): a token without kid against a one-key set.
	vJWXDefault = "jwx-usedefault"
	// vPyJWTList is PyJWT given one algorithms list for every token instead of the key's alg.
	vPyJWTList = "pyjwt-alglist"
)

// runScript runs a verifier script with {url, tokens} on stdin and decodes its JSON answer.
func runScript(t *testing.T, name string, cmd *exec.Cmd, url string, cases []tokenCase, out any, extra ...any) {
	t.Helper()
	req := map[string]any{"url": url, "tokens": cases}
	for i := 0; i+1 < len(extra); i += 2 {
		req[extra[i].(string)] = extra[i+1]
	}
	in, _ := json.Marshal(req)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s: bad output %q: %v", name, stdout, err)
	}
}

// testdataPath is the absolute path of a file in testdata/.
func testdataPath(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// runJose runs node jose. ESM resolves packages from the script's own directory, so the
// script is copied next to a node_modules link to the cached install.
func runJose(t *testing.T, url string, cases []tokenCase) map[string]result {
	t.Helper()
	modules := needEnv(t, "JWKSPUB_NODE_MODULES")
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(testdataPath(t, "verify-jose.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verify.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	var out struct{ Results map[string]result }
	runScript(t, vJose, exec.Command("node", filepath.Join(dir, "verify.mjs")), url, cases, &out)
	return out.Results
}

// runPyJWT runs PyJWT's PyJWKClient; it also returns the kids PyJWKClient could use. With
// algorithms, jwt.decode gets that one list for every token instead of the key's own alg.
func runPyJWT(t *testing.T, url string, cases []tokenCase, algorithms ...string) (map[string]result, []string) {
	t.Helper()
	py := needEnv(t, "JWKSPUB_PYTHON")
	var out struct {
		Kids    []string
		Results map[string]result
	}
	runScript(t, vPyJWT, exec.Command(py, testdataPath(t, "verify-pyjwt.py")), url, cases, &out, "algorithms", algorithms)
	return out.Results, out.Kids
}

// runJWX fetches with jwx's jwk.Fetch and verifies with jwt.Parse over the fetched set, the
// way jwx documents it; useDefault adds jws.WithUseDefault(true).
func runJWX(t *testing.T, url string, cases []tokenCase, useDefault bool) (map[string]result, jwk.Set) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	set, err := jwk.Fetch(ctx, url)
	if err != nil {
		t.Fatalf("jwk.Fetch %s: %v", url, err)
	}
	var opts []interface{}
	if useDefault {
		opts = append(opts, jws.WithUseDefault(true))
	}
	out := map[string]result{}
	for _, c := range cases {
		tok, err := jwt.Parse([]byte(c.Token), jwt.WithKeySet(set, opts...), jwt.WithValidate(true))
		if err != nil {
			out[c.Name] = result{Error: err.Error()}
			continue
		}
		msg, err := jws.Parse([]byte(c.Token))
		if err != nil || tok == nil {
			t.Fatalf("jwx verified %s but cannot parse it again: %v", c.Name, err)
		}
		out[c.Name] = result{OK: true, KID: msg.Signatures()[0].ProtectedHeaders().KeyID()}
	}
	return out, set
}

// checkResults asserts each case for one verifier and logs the verdicts.
func checkResults(t *testing.T, verifier string, cases []tokenCase, got map[string]result, kidOf map[string]string) {
	t.Helper()
	for _, c := range cases {
		r, ok := got[c.Name]
		if !ok {
			t.Errorf("%s: no verdict for %s", verifier, c.Name)
			continue
		}
		want := c.wants(verifier)
		if r.OK != want {
			t.Errorf("%s: %s: verified=%v, want %v (%s)", verifier, c.Name, r.OK, want, r.Error)
			continue
		}
		if r.OK && kidOf[c.Name] != "" && r.KID != kidOf[c.Name] {
			t.Errorf("%s: %s verified with kid %q, want %q", verifier, c.Name, r.KID, kidOf[c.Name])
		}
		verdict := "verified"
		if !r.OK {
			verdict = "rejected: " + r.Error
		}
		t.Logf("%-15s %-28s %s", verifier, c.Name, verdict)
	}
}

// fetchedThroughNginx asserts from nginx's access log that each verifier fetched the JWKS
// (its own query string) and got the document.
func fetchedThroughNginx(t *testing.T, srv *nginxServer, verifiers ...string) {
	t.Helper()
	fetched := func(lines []accessLine, v string) bool {
		for _, l := range lines {
			if l.Method == "GET" && l.URI == "/.well-known/jwks.json?verifier="+v && l.Status == 200 && l.BodyBytesSent > 0 {
				return true
			}
		}
		return false
	}
	lines := srv.waitAccessLog(t, func(lines []accessLine) bool {
		for _, v := range verifiers {
			if !fetched(lines, v) {
				return false
			}
		}
		return true
	})
	for _, v := range verifiers {
		if !fetched(lines, v) {
			t.Errorf("the access log has no 200 for %s's JWKS fetch", v)
		}
	}
}

// TestRealVerifiersThroughNginx: node jose, PyJWT and Go jwx fetch the set through real nginx
// serving a rendered context, and verify tokens signed with the matching private keys, for
// every algorithm jwkspub publishes; and each rejects what it must.
func TestRealVerifiersThroughNginx(t *testing.T) {
	signers := newSigners(t)
	set := &config.SetConfig{Name: "verifiers", Issuer: "http://127.0.0.1"}
	keys := publishSigners(t, signers, set)
	srv := startNginx(t, set, keys)

	var cases []tokenCase
	kidOf := map[string]string{}
	byName := map[string]*signer{}
	for _, s := range signers {
		byName[s.name] = s
		name := "ok/" + s.alg + "/" + s.name
		cases = append(cases, tokenCase{Name: name, Token: signJWT(t, s.alg, s.kid, s.key), def: true})
		kidOf[name] = s.kid
	}
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ps := byName["ps256"]
	rsDER, _ := x509.MarshalPKIXPublicKey(byName["rs256-new"].key.Public())
	rsPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsDER})
	valid := signJWT(t, "ES256", byName["es256"].kid, byName["es256"].key)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64.EncodeToString([]byte(`{"iss":"http://127.0.0.1","sub":"admin","exp":9999999999}`)) + "." + parts[2]
	cases = append(cases,
		// A kid nobody published.
		tokenCase{Name: "reject/unknown-kid", Token: signJWT(t, "ES256", "not-published", stranger)},
		// A published kid, signed by another key.
		tokenCase{Name: "reject/wrong-signature", Token: signJWT(t, "ES256", byName["es256"].kid, stranger)},
		// A published kid, payload changed after signing.
		tokenCase{Name: "reject/tampered-payload", Token: tampered},
		// The PS256 key's own private key, but RS256 in the header: the key says PS256.
		tokenCase{Name: "reject/alg-mismatch-RS256-on-PS256", Token: signJWT(t, "RS256", ps.kid, ps.key)},
		// An EC signature under an RSA kid.
		tokenCase{Name: "reject/alg-mismatch-ES256-on-RSA", Token: signJWT(t, "ES256", byName["rs256-new"].kid, byName["es256"].key)},
		// The classic confusion: HS256 keyed with the RSA public key's PEM.
		tokenCase{Name: "reject/alg-confusion-HS256", Token: signJWT(t, "HS256", byName["rs256-new"].kid, rsPEM)},
		tokenCase{Name: "reject/alg-none", Token: signJWT(t, "none", byName["rs256-new"].kid, nil)},
	)

	jwksURL := func(v string) string { return srv.URL + "/.well-known/jwks.json?verifier=" + v }
	joseRes := runJose(t, jwksURL(vJose), cases)
	pyRes, pyKids := runPyJWT(t, jwksURL(vPyJWT), cases)
	jwxRes, jwxSet := runJWX(t, jwksURL(vJWX), cases, false)

	checkResults(t, vJose, cases, joseRes, kidOf)
	checkResults(t, vPyJWT, cases, pyRes, kidOf)
	checkResults(t, vJWX, cases, jwxRes, kidOf)

	// Per kid: every published key is usable by each verifier (PyJWKSet drops keys it cannot
	// parse without a word, so its list is checked, not assumed).
	var kids []string
	for _, s := range signers {
		kids = append(kids, s.kid)
	}
	sort.Strings(kids)
	if strings.Join(pyKids, ",") != strings.Join(kids, ",") {
		t.Errorf("PyJWKClient can use kids %v, want every published kid %v", pyKids, kids)
	}
	for _, s := range signers {
		if _, ok := jwxSet.LookupKeyID(s.kid); !ok {
			t.Errorf("jwx's fetched set lacks %s (%s)", s.kid, s.alg)
		}
	}
	fetchedThroughNginx(t, srv, vJose, vPyJWT, vJWX)

	// PyJWT does not bind a JWK's "alg" to verification: a service that passes one list of
	// algorithms for every key (here RS256 and PS256) accepts an RS256 signature made with the
	// PS256 key. jose and jwx refuse it whatever the caller allows. Recorded so the README's
	// advice (pin algorithms per key with PyJWT) stays true.
	mismatch := []tokenCase{
		{Name: "alg-mismatch-RS256-on-PS256", Token: signJWT(t, "RS256", ps.kid, ps.key), want: map[string]bool{vPyJWTList: true}},
		{Name: "ok/PS256/ps256", Token: signJWT(t, "PS256", ps.kid, ps.key), def: true},
	}
	listRes, _ := runPyJWT(t, jwksURL(vPyJWTList), mismatch, "RS256", "PS256")
	checkResults(t, vPyJWTList, mismatch, listRes, nil)
}

// TestVerifiersTokenWithoutKid: a token without kid against a one-key set. jose picks the
// only key; PyJWKClient needs a kid and rejects it; jwx needs a kid unless told
// jws.WithUseDefault(true).
func TestVerifiersTokenWithoutKid(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &signer{name: "only", alg: "ES256", key: key}
	set := &config.SetConfig{Name: "one-key"}
	keys := publishSigners(t, []*signer{s}, set)
	srv := startNginx(t, set, keys)

	cases := []tokenCase{
		{Name: "no-kid/one-key-set", Token: signJWT(t, "ES256", "", key), want: map[string]bool{vJose: true, vPyJWT: false, vJWX: false, vJWXDefault: true}},
		{Name: "with-kid/one-key-set", Token: signJWT(t, "ES256", s.kid, key), def: true},
	}
	kidOf := map[string]string{"with-kid/one-key-set": s.kid}
	jwksURL := func(v string) string { return srv.URL + "/.well-known/jwks.json?verifier=" + v }
	checkResults(t, vJose, cases, runJose(t, jwksURL(vJose), cases), kidOf)
	py, _ := runPyJWT(t, jwksURL(vPyJWT), cases)
	checkResults(t, vPyJWT, cases, py, kidOf)
	jx, _ := runJWX(t, jwksURL(vJWX), cases, false)
	checkResults(t, vJWX, cases, jx, kidOf)
	jd, _ := runJWX(t, jwksURL(vJWXDefault), cases, true)
	checkResults(t, vJWXDefault, cases, jd, kidOf)
	fetchedThroughNginx(t, srv, vJose, vPyJWT, vJWX, vJWXDefault)
}
