package jwks

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/jwkspub/jwkspub/internal/golden"
	"github.com/jwkspub/jwkspub/sources"
)

// RFC 7638 §3.1 and RFC 8037 Appendix A keys and thumbprints.
const (
	rfc7638N     = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	rfc8037X     = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Thumb = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

func parseJWK(t testing.TB, s string) sources.Key {
	t.Helper()
	keys, err := sources.ParseJWK([]byte(s), sources.Origin{Source: "test"}, sources.Options{})
	if err != nil || len(keys) != 1 {
		t.Fatalf("ParseJWK(%s): %v", s, err)
	}
	return keys[0]
}

func mustAssemble(t testing.TB, keys []sources.Key, o AssembleOptions) *Set {
	t.Helper()
	set, err := Assemble(keys, o)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	return set
}

func TestRFCThumbprints(t *testing.T) {
	tests := []struct{ name, jwk, want string }{
		{"RFC 7638 3.1 RSA", `{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`, rfc7638Thumb},
		{"RFC 8037 A.3 Ed25519", `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`, rfc8037Thumb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustAssemble(t, []sources.Key{parseJWK(t, tt.jwk)}, AssembleOptions{KID: KIDThumbprint})
			if got := set.Keys[0].KID; got != tt.want {
				t.Errorf("thumbprint kid = %s, want %s", got, tt.want)
			}
		})
	}
	// keep-or-thumbprint keeps the RFC's own kid.
	set := mustAssemble(t, []sources.Key{parseJWK(t, tests[0].jwk)}, AssembleOptions{})
	if set.Keys[0].KID != "2011-04-29" {
		t.Errorf("keep-or-thumbprint changed the kid to %s", set.Keys[0].KID)
	}
}

// TestThumbprintMatchesJWX cross-checks our lean thumbprint with jwx's for many random keys.
func TestThumbprintMatchesJWX(t *testing.T) {
	var keys []sources.Key
	var raws []any
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		for range 20 {
			p, _ := ecdsa.GenerateKey(c, rand.Reader)
			k, err := sources.FromPublicKey(&p.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			keys, raws = append(keys, k), append(raws, &p.PublicKey)
		}
	}
	set := mustAssemble(t, keys, AssembleOptions{KID: KIDThumbprint, Policy: Policy{MaxKeys: 100}})
	got := map[string]bool{}
	for _, k := range set.Keys {
		got[k.KID] = true
	}
	for _, r := range raws {
		jk, err := jwk.FromRaw(r)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := jk.Thumbprint(cryptoSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(tp); !got[want] {
			t.Errorf("jwx thumbprint %s not among ours", want)
		}
	}
}

func TestLeadingZeroModulusIsMinimal(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString(rfc7638N)
	padded := append([]byte{0, 0}, n...)
	k := sources.Key{Kty: "RSA", N: padded, E: []byte{0, 1, 0, 1}, Origin: sources.Origin{Source: "test"}}
	set := mustAssemble(t, []sources.Key{k}, AssembleOptions{})
	if set.Keys[0].KID != rfc7638Thumb {
		t.Errorf("kid %s: leading zeros changed the thumbprint", set.Keys[0].KID)
	}
	doc, err := Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"n":"`+rfc7638N+`","e":"AQAB"`)) {
		t.Errorf("n/e not minimal: %s", doc)
	}
}

func TestShortECCoordinateIsPadded(t *testing.T) {
	// Find a P-256 key whose x starts with a zero byte, as some emitters drop it.
	var p *ecdsa.PrivateKey
	var raw []byte
	for range 100000 {
		p, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		raw, _ = p.PublicKey.Bytes()
		if raw[1] == 0 {
			break
		}
	}
	if raw[1] != 0 {
		t.Fatal("no key with a short x found")
	}
	short := base64.RawURLEncoding.EncodeToString(raw[2:33])
	full := base64.RawURLEncoding.EncodeToString(raw[1:33])
	y := base64.RawURLEncoding.EncodeToString(raw[33:])
	k := parseJWK(t, `{"kty":"EC","crv":"P-256","x":"`+short+`","y":"`+y+`"}`)
	set := mustAssemble(t, []sources.Key{k}, AssembleOptions{})
	doc, err := Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"x":"`+full+`"`)) {
		t.Errorf("x not padded to 32 bytes: %s", doc)
	}
	jk, _ := jwk.FromRaw(&p.PublicKey)
	tp, _ := jk.Thumbprint(cryptoSHA256)
	if want := base64.RawURLEncoding.EncodeToString(tp); set.Keys[0].KID != want {
		t.Errorf("thumbprint %s, jwx says %s", set.Keys[0].KID, want)
	}
}

func TestInferredAlgs(t *testing.T) {
	want := map[string]string{"RSA": "RS256", "P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "Ed25519": "EdDSA"}
	set := mustAssemble(t, testSourceKeys(t), AssembleOptions{})
	for _, k := range set.Keys {
		name := k.Crv
		if k.Kty == "RSA" {
			name = "RSA"
		}
		if k.Alg != want[name] || k.Use != "sig" {
			t.Errorf("%s: alg %s use %s, want %s sig", name, k.Alg, k.Use, want[name])
		}
	}
}

// testSourceKeys reads fixed keys from testdata, so golden output is stable.
func testSourceKeys(t testing.TB) []sources.Key {
	t.Helper()
	var keys []sources.Key
	paths, _ := filepath.Glob("testdata/keys/*")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := sources.Parse(data, sources.Origin{Source: "file:" + filepath.Base(p)}, sources.Options{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ks...)
	}
	if len(keys) < 5 {
		t.Fatalf("only %d test keys in testdata/keys", len(keys))
	}
	return keys
}

func TestEncodeGolden(t *testing.T) {
	keys := testSourceKeys(t)
	for _, pretty := range []bool{false, true} {
		set := mustAssemble(t, keys, AssembleOptions{})
		doc, err := Encode(set, pretty)
		if err != nil {
			t.Fatal(err)
		}
		name := "testkeys.jwks.json"
		if pretty {
			name = "testkeys.pretty.jwks.json"
		}
		golden.Check(t, name, doc)
	}
}

func TestDeterministic(t *testing.T) {
	keys := testSourceKeys(t)
	set := mustAssemble(t, keys, AssembleOptions{})
	first, _ := Encode(set, false)
	// Reversed input order and a fresh run give the same bytes.
	rev := make([]sources.Key, len(keys))
	for i, k := range keys {
		rev[len(keys)-1-i] = k
	}
	second, _ := Encode(mustAssemble(t, rev, AssembleOptions{}), false)
	if !bytes.Equal(first, second) {
		t.Errorf("output depends on input order:\n%s\n%s", first, second)
	}
	// Member order is fixed.
	var doc struct{ Keys []json.RawMessage }
	_ = json.Unmarshal(first, &doc)
	for _, k := range doc.Keys {
		s := string(k)
		if !strings.HasPrefix(s, `{"kty":`) || strings.Index(s, `"use"`) > strings.Index(s, `"alg"`) || strings.Index(s, `"alg"`) > strings.Index(s, `"kid"`) {
			t.Errorf("member order: %s", s)
		}
	}
}

func TestKIDModes(t *testing.T) {
	n := `{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","kid":"given"}`
	k := parseJWK(t, n)
	k.Name, k.Version = "jwt", 3
	pub, _ := (&JWK{Kty: "RSA", N: k.N, E: k.E}).PublicKey()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256Of(der)
	k8s := base64.RawURLEncoding.EncodeToString(sum)
	tests := []struct {
		opts AssembleOptions
		cfg  string
		want string
	}{
		{AssembleOptions{}, "", "given"},
		{AssembleOptions{KID: KIDThumbprint}, "", rfc7638Thumb},
		{AssembleOptions{KID: KIDK8s}, "", k8s},
		{AssembleOptions{KID: KIDTemplate, KIDTemplate: "{{.Name}}-v{{.Version}}"}, "", "jwt-v3"},
		{AssembleOptions{KID: KIDThumbprint}, "{{.KID}}-{{.Alg}}", "given-RS256"}, // source option wins
		{AssembleOptions{}, KIDK8s, k8s},
	}
	for _, tt := range tests {
		kk := k
		kk.ConfigKID = tt.cfg
		set := mustAssemble(t, []sources.Key{kk}, tt.opts)
		if got := set.Keys[0].KID; got != tt.want {
			t.Errorf("%+v cfg %q: kid %s, want %s", tt.opts, tt.cfg, got, tt.want)
		}
	}
}

const cryptoSHA256 = crypto.SHA256

// cert makes a self-signed certificate for priv valid between the given times.
func cert(t testing.TB, priv *ecdsa.PrivateKey, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestCertificates(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := func(c *x509.Certificate) sources.Key {
		k, _ := sources.FromPublicKey(&p.PublicKey)
		k.Certs = []*x509.Certificate{c}
		k.Origin = sources.Origin{Source: "file:svc.crt", Location: "block 1"}
		return k
	}
	valid := cert(t, p, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0))
	set := mustAssemble(t, []sources.Key{key(valid)}, AssembleOptions{Now: now})
	doc, _ := Encode(set, false)
	x5c := base64.StdEncoding.EncodeToString(valid.Raw)
	x5t := base64.RawURLEncoding.EncodeToString(sha256Of(valid.Raw))
	if !bytes.Contains(doc, []byte(`"x5c":["`+x5c+`"],"x5t#S256":"`+x5t+`"`)) {
		t.Errorf("x5c/x5t#S256 missing or wrong: %s", doc)
	}

	soon := cert(t, p, now.AddDate(0, -1, 0), now.AddDate(0, 0, 10))
	set = mustAssemble(t, []sources.Key{key(soon)}, AssembleOptions{Now: now})
	if len(set.Warnings) != 1 || !strings.Contains(set.Warnings[0], "within 30 days") || !strings.Contains(set.Warnings[0], "file:svc.crt block 1") {
		t.Errorf("warnings = %q", set.Warnings)
	}

	for name, tc := range map[string]struct {
		c    *x509.Certificate
		rule string
	}{
		"expired":       {cert(t, p, now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1)), "cert-expired"},
		"not yet valid": {cert(t, p, now.AddDate(0, 0, 1), now.AddDate(1, 0, 0)), "cert-not-yet-valid"},
		"other key":     {cert(t, other, now.AddDate(0, -1, 0), now.AddDate(1, 0, 0)), "x5c-mismatch"},
	} {
		_, err := Assemble([]sources.Key{key(tc.c)}, AssembleOptions{Now: now})
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Violations[0].Rule != tc.rule {
			t.Errorf("%s: err = %v, want rule %s", name, err, tc.rule)
		}
	}
}

// TestRefusals checks each rule, and that its message names the source, the key and the rule
// and gives a fix.
func TestRefusals(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak, _ := sources.FromPublicKey(&rsa1024.PublicKey)
	weak.KID = "weak"
	rsaKey := parseJWK(t, `{"kty":"RSA","n":"`+rfc7638N+`","e":"AQAB"}`)
	edKey := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecKey, _ := sources.FromPublicKey(&p256.PublicKey)
	offCurve := ecKey
	offCurve.Y = append([]byte(nil), ecKey.Y...)
	offCurve.Y[31] ^= 1
	with := func(k sources.Key, f func(*sources.Key)) sources.Key { f(&k); return k }

	tests := []struct {
		name   string
		keys   []sources.Key
		policy Policy
		rule   string
		key    string // how the key is named in the message; "" when its origin names it
	}{
		{"symmetric", []sources.Key{{Kty: "oct", KID: "hs"}}, Policy{}, "symmetric-key", `kid "hs"`},
		{"weak rsa", []sources.Key{weak}, Policy{}, "rsa-min-bits", `kid "weak"`},
		{"rsa under configured minimum", []sources.Key{rsaKey}, Policy{MinRSABits: 3072}, "rsa-min-bits", ""},
		{"exponent 3", []sources.Key{with(rsaKey, func(k *sources.Key) { k.E = []byte{3} })}, Policy{}, "rsa-exponent", ""},
		{"off curve", []sources.Key{offCurve}, Policy{}, "ec-point", ""},
		{"secp256k1", []sources.Key{with(ecKey, func(k *sources.Key) { k.Crv = "secp256k1" })}, Policy{}, "ec-curve", ""},
		{"x25519", []sources.Key{with(edKey, func(k *sources.Key) { k.Crv = "X25519" })}, Policy{}, "okp-curve", ""},
		{"alg for another kty", []sources.Key{with(ecKey, func(k *sources.Key) { k.Alg = "RS256" })}, Policy{}, "alg-kty", ""},
		{"alg for another curve", []sources.Key{with(ecKey, func(k *sources.Key) { k.Alg = "ES384" })}, Policy{}, "alg-kty", ""},
		{"hs256", []sources.Key{with(rsaKey, func(k *sources.Key) { k.Alg = "HS256" })}, Policy{}, "alg", ""},
		{"not allowed", []sources.Key{edKey}, Policy{AllowedAlgs: []string{"RS256"}}, "alg-not-allowed", ""},
		{"config vs input alg", []sources.Key{with(rsaKey, func(k *sources.Key) { k.Alg, k.ConfigAlg = "RS256", "PS256" })}, Policy{}, "alg-conflict", ""},
		{"use enc", []sources.Key{with(rsaKey, func(k *sources.Key) { k.Use = "enc" })}, Policy{}, "use", ""},
		{"private member", []sources.Key{with(rsaKey, func(k *sources.Key) { k.Members = []string{"d", "e", "kty", "n"} })}, Policy{}, "private-member", ""},
		{"one kid two keys", []sources.Key{with(rsaKey, func(k *sources.Key) { k.KID = "a" }), with(edKey, func(k *sources.Key) { k.KID = "a" })}, Policy{}, "duplicate-kid", `kid "a"`},
		{"one key two kids", []sources.Key{with(rsaKey, func(k *sources.Key) { k.KID = "a" }), with(rsaKey, func(k *sources.Key) { k.KID = "b" })}, Policy{}, "duplicate-key", `kid "b"`},
		{"empty", nil, Policy{}, "empty-set", ""},
		{"too many", []sources.Key{rsaKey, edKey, ecKey}, Policy{MaxKeys: 2}, "max-keys", ""},
		{"unknown kty", []sources.Key{{Kty: "DSA"}}, Policy{}, "kty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.keys {
				tt.keys[i].Origin = sources.Origin{Source: "file:keys/k.pem", Location: "block 2"}
			}
			set, err := Assemble(tt.keys, AssembleOptions{Policy: tt.policy})
			var pe *PolicyError
			if !errors.As(err, &pe) || set != nil {
				t.Fatalf("Assemble = %v, %v; want a PolicyError", set, err)
			}
			var v *Violation
			for i := range pe.Violations {
				if pe.Violations[i].Rule == tt.rule {
					v = &pe.Violations[i]
				}
			}
			if v == nil {
				t.Fatalf("no %s violation in %v", tt.rule, err)
			}
			msg := v.String()
			want := []string{tt.rule + ":", "fix:"}
			if len(tt.keys) > 0 && tt.rule != "max-keys" { // the set-wide rules name no key
				want = append(want, "file:keys/k.pem block 2: ")
			}
			if tt.key != "" {
				want = append(want, tt.key)
			} else if strings.Contains(msg, ": key ") {
				t.Errorf("message %q names the key by a position next to its origin's", msg)
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestAllViolationsAtOnce(t *testing.T) {
	_, err := Assemble([]sources.Key{
		{Kty: "oct", Origin: sources.Origin{Source: "env:A"}},
		{Kty: "RSA", N: []byte{0xff}, E: []byte{3}, Origin: sources.Origin{Source: "env:B"}},
	}, AssembleOptions{})
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Violations) != 3 {
		t.Fatalf("want 3 violations (symmetric, bits, exponent), got %v", err)
	}
}

// TestKeyWithoutOriginNamedFrom1: library callers may give keys without an origin; they are
// then named by their position, counted from 1 like every position in messages.
func TestKeyWithoutOriginNamedFrom1(t *testing.T) {
	_, err := Assemble([]sources.Key{{Kty: "oct", KID: "a"}, {Kty: "oct"}}, AssembleOptions{})
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Violations) != 2 {
		t.Fatalf("want 2 violations, got %v", err)
	}
	if got := pe.Violations[1].String(); !strings.HasPrefix(got, "key 2: symmetric-key") {
		t.Errorf("second key named %q, want key 2", got)
	}
}

func TestSameKeyTwiceIsPublishedOnce(t *testing.T) {
	k := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	set := mustAssemble(t, []sources.Key{k, k}, AssembleOptions{})
	if len(set.Keys) != 1 || len(set.Warnings) != 1 {
		t.Fatalf("keys %d warnings %q", len(set.Keys), set.Warnings)
	}
}

func TestCheckPublicOnly(t *testing.T) {
	for _, tt := range []struct {
		doc string
		ok  bool
	}{
		{`{"keys":[{"kty":"OKP","use":"sig","alg":"EdDSA","kid":"a","crv":"Ed25519","x":"AA"}]}`, true},
		{`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA","d":"AA"}]}`, false},
		{`{"keys":[{"kty":"RSA","n":"AA","e":"AQAB","p":"AA"}]}`, false},
		{`{"keys":[{"kty":"oct","k":"AA"}]}`, false},
		{`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","key_ops":["sign"]}]}`, false},
		{`{"keys":[],"d":"AA"}`, false},
		{`not json`, false},
	} {
		err := CheckPublicOnly([]byte(tt.doc))
		if (err == nil) != tt.ok {
			t.Errorf("CheckPublicOnly(%s) = %v", tt.doc, err)
		}
		if !tt.ok && err != nil && strings.Contains(err.Error(), `"AA"`) {
			t.Errorf("refusal echoes member values: %v", err)
		}
	}
}

// TestEncoderCatchesLeakyKeys: a JWK carrying a member the encoder does not know (as a buggy
// source could produce) never reaches the output: Encode only writes allowed members, and an
// unknown kty is refused outright.
func TestEncoderCatchesLeakyKeys(t *testing.T) {
	set := &Set{Keys: []JWK{{Kty: "oct", KID: "x", X: []byte("secret")}}}
	if _, err := Encode(set, false); err == nil {
		t.Fatal("Encode wrote an oct key")
	}
}

// ed25519Torsion are the encodings of the eight points of small order on edwards25519 (the
// torsion subgroup), as listed by libsodium and the "Taming the many EdDSAs" paper (Chalkias et
// al., 2020).
var ed25519Torsion = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity, order 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

func TestEd25519Points(t *testing.T) {
	tests := []struct {
		name, hex, want string // want: part of the detail, "" when the key is accepted
	}{
		{"RFC 8032 7.1 test 1", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", ""},
		{"RFC 8032 7.1 test 3", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", ""},
		{"identity as y = p+1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "not canonically encoded"},
		{"identity with the sign bit", "0100000000000000000000000000000000000000000000000000000000000080", "not canonically encoded"},
		{"y = 2 is on no point", "0200000000000000000000000000000000000000000000000000000000000000", "does not decode"},
	}
	for i, h := range ed25519Torsion {
		tests = append(tests, struct{ name, hex, want string }{fmt.Sprintf("torsion point %d", i), h, "small order"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			k := sources.Key{Kty: "OKP", Crv: "Ed25519", X: x, KID: "ed", Origin: sources.Origin{Source: "env:JWKS", Location: "key 0"}}
			_, err = Assemble([]sources.Key{k}, AssembleOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("a valid RFC 8032 key refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Violations[0].Rule != "okp-point" || !strings.Contains(pe.Violations[0].Detail, tt.want) {
				t.Fatalf("err = %v, want okp-point %q", err, tt.want)
			}
		})
	}
}

// TestROCA: the positive sample of the ROCA detector's own tests (crocs-muni/roca,
// roca/tests/data/pubkey03.pem, MIT licence) is refused; keys made here are not.
func TestROCA(t *testing.T) {
	data, err := os.ReadFile("testdata/vectors/roca-pubkey03.pem")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sources.ParsePEM(data, sources.Origin{Source: "file:roca.pem"}, sources.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Assemble(keys, AssembleOptions{})
	var pe *PolicyError
	if !errors.As(err, &pe) || len(pe.Violations) != 1 || pe.Violations[0].Rule != "rsa-roca" {
		t.Fatalf("err = %v, want rsa-roca alone", err)
	}
	for range 20 {
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		if rocaFingerprint(k.N.Bytes()) {
			t.Fatal("a Go-generated modulus has the ROCA fingerprint")
		}
	}
	if rocaFingerprint(mustB64(t, rfc7638N)) {
		t.Fatal("the RFC 7638 modulus has the ROCA fingerprint")
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyOps(t *testing.T) {
	const ed = `"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"`
	tests := []struct {
		name, jwk string
		derived   bool
		want      string // part of the key-ops detail; "" when accepted
	}{
		{"verify", `{` + ed + `,"key_ops":["verify"]}`, false, ""},
		{"empty", `{` + ed + `,"key_ops":[]}`, false, ""},
		{"encrypt", `{` + ed + `,"key_ops":["encrypt"]}`, false, `"encrypt"`},
		{"wrapKey and deriveKey", `{` + ed + `,"key_ops":["verify","wrapKey","deriveKey"]}`, false, `"wrapKey", "deriveKey"`},
		{"sign on a public key", `{` + ed + `,"key_ops":["sign","verify"]}`, false, `"sign"`},
		{"sign on derived private input", `{` + ed + `,"key_ops":["sign","verify"]}`, true, ""},
		{"twice", `{` + ed + `,"key_ops":["verify","verify"]}`, false, "twice"},
		{"use sig with encrypt", `{` + ed + `,"use":"sig","key_ops":["encrypt"]}`, false, `"encrypt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := parseJWK(t, tt.jwk)
			k.Derived = tt.derived
			set, err := Assemble([]sources.Key{k}, AssembleOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				out, _ := Encode(set, false)
				if strings.Contains(string(out), "key_ops") {
					t.Errorf("output carries key_ops: %s", out)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Violations[0].Rule != "key-ops" || !strings.Contains(pe.Violations[0].Detail, tt.want) {
				t.Fatalf("err = %v, want key-ops naming %s", err, tt.want)
			}
		})
	}
	if _, err := sources.ParseJWK([]byte(`{`+ed+`,"key_ops":"verify"}`), sources.Origin{Source: "env:K"}, sources.Options{}); err == nil || !strings.Contains(err.Error(), "key_ops") {
		t.Fatalf("key_ops as a string: err = %v", err)
	}
}

func TestKIDFormat(t *testing.T) {
	ed := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}`)
	tests := []struct {
		name string
		kid  string // the input's kid
		mode string // the set's kid mode
		want string // part of the detail; "" when accepted
	}{
		{"plain", "2024-05-key", "", ""},
		{"one space", " ", "", "white space"},
		{"leading space", " key", "", "white space"},
		{"trailing newline", "key\n", "", "unprintable"},
		{"at the bound", strings.Repeat("k", MaxKIDLength), "", ""},
		{"over the bound", strings.Repeat("k", MaxKIDLength+1), "", "longer than 256"},
		{"a template's megabyte", "", `{{printf "%01000000d" 0}}`, "1000000 bytes"},
		{"a template's nothing", "", `{{if false}}x{{end}}`, "empty"},
		{"invalid UTF-8", "k\xff", "", "unprintable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := ed
			k.KID = tt.kid
			_, err := Assemble([]sources.Key{k}, AssembleOptions{KID: tt.mode})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Violations[0].Rule != "kid-format" || !strings.Contains(pe.Violations[0].Detail, tt.want) {
				t.Fatalf("err = %v, want kid-format %q", err, tt.want)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("the message is %d bytes: a long kid must be cut short", len(err.Error()))
			}
		})
	}
}

// TestEveryViolationAtOnceWithDuplicates: a refused key still takes part in the duplicate
// checks, so a weak key under two kids reports both problems in one run.
func TestEveryViolationAtOnceWithDuplicates(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak, _ := sources.FromPublicKey(&rsa1024.PublicKey)
	a, b := weak, weak
	a.KID, b.KID = "a", "b"
	_, err := Assemble([]sources.Key{a, b}, AssembleOptions{})
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	var rules []string
	for _, v := range pe.Violations {
		rules = append(rules, v.Rule)
	}
	if got := strings.Join(rules, " "); got != "rsa-min-bits rsa-min-bits duplicate-key" {
		t.Fatalf("rules = %s, want rsa-min-bits twice and duplicate-key", got)
	}
}
