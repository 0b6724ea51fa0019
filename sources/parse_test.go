package sources

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testKeys are generated once per test binary; RSA generation is slow.
type testKeys struct {
	rsa  *rsa.PrivateKey
	p256 *ecdsa.PrivateKey
	p384 *ecdsa.PrivateKey
	p521 *ecdsa.PrivateKey
	ed   ed25519.PrivateKey
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	k := &testKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&k.p256, elliptic.P256()}, {&k.p384, elliptic.P384()}, {&k.p521, elliptic.P521()}} {
		if *c.dst, err = ecdsa.GenerateKey(c.curve, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t testing.TB, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkixPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PUBLIC KEY", der)
}

func pkcs8PEM(t testing.TB, priv crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

// selfSigned makes a certificate for key, signed by signer (self-signed when signer is nil).
func selfSigned(t testing.TB, key crypto.Signer, notAfter time.Time, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	return makeCert(t, "jwkspub test", key, parent, parentKey, isCA, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign, notAfter)
}

// makeCert makes a certificate with the given subject for key, issued by parent (self-signed
// when parent is nil), valid from an hour ago.
func makeCert(t testing.TB, cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, ku x509.KeyUsage, notAfter time.Time) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              ku,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sshLine(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	s, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s))) + " user@host"
}

func TestParseFormats(t *testing.T) {
	k := newTestKeys(t)
	year := time.Now().Add(365 * 24 * time.Hour)
	ca := selfSigned(t, k.p384, year, true, nil, nil)
	leaf := selfSigned(t, k.p256, year, false, ca, k.p384)
	self := selfSigned(t, k.rsa, year, false, nil, nil)

	type want struct {
		kty, crv string
		certs    int
		loc      string
	}
	tests := []struct {
		name  string
		input string
		want  []want
	}{
		{"pkix rsa", pkixPEM(t, &k.rsa.PublicKey), []want{{"RSA", "", 0, "block 1"}}},
		{"pkcs1 rsa", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), []want{{"RSA", "", 0, "block 1"}}},
		{"pkix p256", pkixPEM(t, &k.p256.PublicKey), []want{{"EC", "P-256", 0, "block 1"}}},
		{"pkix p384", pkixPEM(t, &k.p384.PublicKey), []want{{"EC", "P-384", 0, "block 1"}}},
		{"pkix p521", pkixPEM(t, &k.p521.PublicKey), []want{{"EC", "P-521", 0, "block 1"}}},
		{"pkix ed25519", pkixPEM(t, k.ed.Public()), []want{{"OKP", "Ed25519", 0, "block 1"}}},
		{"several blocks with text around", "comment\n" + pkixPEM(t, &k.rsa.PublicKey) + "more text\n" + pkixPEM(t, &k.p256.PublicKey),
			[]want{{"RSA", "", 0, "block 1"}, {"EC", "P-256", 0, "block 2"}}},
		{"self-signed certificate", pemOf(t, "CERTIFICATE", self.Raw), []want{{"RSA", "", 1, "block 1"}}},
		{"certificate chain stays one key", pemOf(t, "CERTIFICATE", leaf.Raw) + pemOf(t, "CERTIFICATE", ca.Raw), []want{{"EC", "P-256", 2, "block 1"}}},
		{"ssh keys", sshLine(t, &k.rsa.PublicKey) + "\n# comment\n\n" + sshLine(t, &k.p384.PublicKey) + "\n" + sshLine(t, k.ed.Public()),
			[]want{{"RSA", "", 0, "line 1"}, {"EC", "P-384", 0, "line 4"}, {"OKP", "Ed25519", 0, "line 5"}}},
		{"jwk", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}`, []want{{"OKP", "Ed25519", 0, ""}}},
		{"jwks", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
			[]want{{"OKP", "Ed25519", 0, "key 1"}, {"RSA", "", 0, "key 2"}}},
		{"jwk with x5c", `{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["` + base64.StdEncoding.EncodeToString(self.Raw) + `"]}`, []want{{"RSA", "", 1, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := Parse([]byte(tt.input), Origin{Source: "test:x"}, Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(keys), len(tt.want))
			}
			for i, w := range tt.want {
				got := keys[i]
				if got.Kty != w.kty || got.Crv != w.crv || len(got.Certs) != w.certs || got.Origin.Location != w.loc {
					t.Errorf("key %d = {%s %s certs=%d %q}, want {%s %s certs=%d %q}", i, got.Kty, got.Crv, len(got.Certs), got.Origin.Location, w.kty, w.crv, w.certs, w.loc)
				}
			}
		})
	}
}

func TestECCoordinatesFullWidth(t *testing.T) {
	k := newTestKeys(t)
	for _, priv := range []*ecdsa.PrivateKey{k.p256, k.p384, k.p521} {
		keys, err := Parse([]byte(pkixPEM(t, &priv.PublicKey)), Origin{Source: "t"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		w := (priv.Curve.Params().BitSize + 7) / 8
		if len(keys[0].X) != w || len(keys[0].Y) != w {
			t.Errorf("%s: x %d y %d bytes, want %d", keys[0].Crv, len(keys[0].X), len(keys[0].Y), w)
		}
	}
}

func TestPrivateInputRefused(t *testing.T) {
	k := newTestKeys(t)
	sec1, err := x509.MarshalECPrivateKey(k.p256)
	if err != nil {
		t.Fatal(err)
	}
	opensshBlock, err := ssh.MarshalPrivateKey(k.ed, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input, kty string
	}{
		{"pkcs1", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa)), "RSA"},
		{"pkcs8 rsa", pkcs8PEM(t, k.rsa), "RSA"},
		{"pkcs8 ed25519", pkcs8PEM(t, k.ed), "OKP"},
		{"sec1 with ec parameters", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + pemOf(t, "EC PRIVATE KEY", sec1), "EC"},
		{"openssh", string(pem.EncodeToMemory(opensshBlock)), "OKP"},
		{"private jwk", `{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64u(t, k.p256, "x") + `","y":"` + b64u(t, k.p256, "y") + `","d":"` + b64u(t, k.p256, "d") + `"}`, "EC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input), Origin{Source: "file:secret.pem"}, Options{})
			if !errors.Is(err, ErrPrivateKey) {
				t.Fatalf("err = %v, want ErrPrivateKey", err)
			}
			msg := err.Error()
			for _, want := range []string{"file:secret.pem", "--derive-public"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}

			var logs bytes.Buffer
			keys, err := Parse([]byte(tt.input), Origin{Source: "file:secret.pem"}, Options{DerivePublic: true, Logger: slogTo(&logs)})
			if err != nil {
				t.Fatalf("with DerivePublic: %v", err)
			}
			if len(keys) != 1 || keys[0].Kty != tt.kty {
				t.Fatalf("derived %+v, want one %s key", keys, tt.kty)
			}
			for _, m := range keys[0].Members {
				if IsPrivateMember(m) {
					t.Errorf("derived key keeps private member %q", m)
				}
			}
			if !strings.Contains(logs.String(), "derived public key") {
				t.Errorf("derivation not logged: %q", logs.String())
			}
			assertNoSecret(t, logs.String(), tt.input)
		})
	}
}

// assertNoSecret fails if out contains any long run of the secret input's body.
func assertNoSecret(t *testing.T, out, secret string) {
	t.Helper()
	for _, line := range strings.Split(secret, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
			t.Errorf("output contains secret material %q", line)
		}
	}
	for _, f := range strings.Split(secret, `"`) {
		if len(f) >= 32 && strings.Contains(out, f) {
			t.Errorf("output contains secret material %q", f)
		}
	}
}

func b64u(t testing.TB, k *ecdsa.PrivateKey, member string) string {
	t.Helper()
	raw, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	w := (len(raw) - 1) / 2
	switch member {
	case "x":
		return base64.RawURLEncoding.EncodeToString(raw[1 : 1+w])
	case "y":
		return base64.RawURLEncoding.EncodeToString(raw[1+w:])
	}
	d, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(d)
}

func TestParseErrorsNameTheBlock(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name, input string
		want        []string
	}{
		{"bad second block", pkixPEM(t, &k.rsa.PublicKey) + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", []string{"file:k.pem block 2", "the DER is malformed or truncated"}},
		{"unknown block", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", []string{"block 1", `unsupported PEM block type "FOO"`}},
		{"encrypted private", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", []string{"block 1", "encrypted private key"}},
		{"garbage", "hello", []string{"file:k.pem", "unrecognised key format"}},
		{"empty", "  \n", []string{"no public key found"}},
		{"jwks element not object", `{"keys":[1]}`, []string{"key 1", "not a JSON object"}},
		{"jwk bad base64", `{"kty":"RSA","n":"!!","e":"AQAB"}`, []string{`member "n" is not base64url`}},
		{"jwk missing kty", `{"n":"AQAB"}`, []string{`missing "kty"`}},
		{"jwk kty not string", `{"kty":1}`, []string{`member "kty": not a string`}},
		{"empty jwks", `{"keys":[]}`, []string{"no public key found"}},
		{"ssh dss", "ssh-dss AAAAB3NzaC1kc3MAAACBAP== x", []string{"line 1"}},
		{"symmetric jwk", `{"kty":"oct","k":"c2VjcmV0","kid":"hs"}`, []string{"symmetric (oct) JWK", `kid "hs"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input), Origin{Source: "file:k.pem"}, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "fix:") {
				t.Errorf("error %q gives no fix", err)
			}
		})
	}
}
