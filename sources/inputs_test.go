package sources

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBOMIgnored(t *testing.T) {
	k := newTestKeys(t)
	bom := "\xef\xbb\xbf"
	inputs := map[string]string{
		"pem":     pkixPEM(t, &k.p256.PublicKey),
		"jwk set": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"openssh": sshLine(t, k.ed.Public()) + "\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			for _, parse := range []struct {
				name string
				fn   func(string) ([]Key, error)
			}{
				{"Parse", func(s string) ([]Key, error) { return Parse([]byte(s), Origin{Source: "t"}, Options{}) }},
				{"ParseEnvValue", func(s string) ([]Key, error) { return ParseEnvValue(s, Origin{Source: "t"}, Options{}) }},
			} {
				want, err := parse.fn(in)
				if err != nil {
					t.Fatalf("%s without BOM: %v", parse.name, err)
				}
				got, err := parse.fn(bom + in)
				if err != nil {
					t.Fatalf("%s with BOM: %v", parse.name, err)
				}
				if len(got) != len(want) || got[0].Kty != want[0].Kty || !bytes.Equal(got[0].X, want[0].X) || got[0].Origin != want[0].Origin {
					t.Errorf("%s with BOM = %+v, want %+v", parse.name, got, want)
				}
			}
		})
	}
	// The exported parsers strip it too: they are called directly by other sources.
	if _, err := ParsePEM([]byte(bom+inputs["pem"]), Origin{Source: "t"}, Options{}); err != nil {
		t.Errorf("ParsePEM with BOM: %v", err)
	}
	if _, err := ParseJWK([]byte(bom+inputs["jwk set"]), Origin{Source: "t"}, Options{}); err != nil {
		t.Errorf("ParseJWK with BOM: %v", err)
	}
}

func TestOpenSSHLinesNumberedAsInTheFile(t *testing.T) {
	k := newTestKeys(t)
	ed, p384 := sshLine(t, k.ed.Public()), sshLine(t, &k.p384.PublicKey)
	tests := []struct {
		name  string
		input string
		locs  []string // of the keys read
		err   string   // in the error, when one is expected
	}{
		{"comment first", "# deploy key\n" + ed + "\n", []string{"line 2"}, ""},
		{"blank lines and comments first", "\n\n# a\n   # b\n\n" + ed + "\n\n" + p384 + "\n", []string{"line 6", "line 8"}, ""},
		{"crlf", "# a\r\n\r\n" + ed + "\r\n", []string{"line 3"}, ""},
		{"bad key after blank lines", "\n\n" + ed + "\nssh-ed25519 AAAA broken\n", []string{"line 3"}, "line 4: parsing OpenSSH public key"},
		{"bom and comment", "\xef\xbb\xbf# k\n" + ed, []string{"line 2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func() ([]Key, error){
				func() ([]Key, error) { return Parse([]byte(tt.input), Origin{Source: "file:k"}, Options{}) },
				func() ([]Key, error) { return ParseEnvValue(tt.input, Origin{Source: "env:K"}, Options{}) },
			} {
				keys, err := parse()
				if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				var locs []string
				for _, k := range keys {
					locs = append(locs, k.Origin.Location)
				}
				if !slices.Equal(locs, tt.locs) {
					t.Errorf("keys at %q, want %q", locs, tt.locs)
				}
			}
		})
	}
	// A comment alone is not an OpenSSH file.
	if _, err := Parse([]byte("# nothing here\n"), Origin{Source: "file:k"}, Options{}); err == nil || !strings.Contains(err.Error(), "unrecognised key format") {
		t.Errorf("comment-only file: %v", err)
	}
}

// TestDiagnoses: keys the standard library refuses with a message that does not say what they
// are get one that does, with a fix; none leaks Go struct dumps.
func TestDiagnoses(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("testdata/keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	k := newTestKeys(t)
	spki := []byte(pkixPEM(t, &k.p256.PublicKey))
	der, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Split(string(spki), "\n")[1:3], ""))
	truncated := pemOf(t, "PUBLIC KEY", der[:40])
	pkcs1 := x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)
	spkiRSA, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	cert := selfSigned(t, k.p256, time.Now().Add(time.Hour), false, nil, nil)

	tests := []struct {
		name, input string
		opts        Options
		want        []string
	}{
		{"rsa-pss spki", read("rsa-pss.pub.pem"), Options{}, []string{"block 1", "RSASSA-PSS algorithm identifier", "rsaEncryption", "-RSAPublicKey_out", "PS256"}},
		{"rsa-pss spki with parameters", read("rsa-pss-sha256.pub.pem"), Options{}, []string{"RSASSA-PSS algorithm identifier", "-RSAPublicKey_in -pubout"}},
		{"rsa-pss pkcs1 label", read("rsa-pss.pkcs1.pem"), Options{}, []string{"restricted to RSASSA-PSS", "sed 's/RSA-PSS PUBLIC KEY/RSA PUBLIC KEY/' KEY.pem | openssl rsa -RSAPublicKey_in -pubout"}},
		{"rsa-pss certificate", read("rsa-pss.crt"), Options{}, []string{"certificate's key has the RSASSA-PSS algorithm identifier", "reissue the certificate"}},
		{"rsa-pss private key", read("rsa-pss.key"), Options{DerivePublic: true}, []string{"private key restricted to RSASSA-PSS", "rsaEncryption"}},
		{"compressed ec point", read("p256-compressed.pub.pem"), Options{}, []string{"compressed point", "openssl ec -pubin -in KEY.pub -pubout -conv_form uncompressed"}},
		{"compressed ec certificate", read("p256-compressed.crt"), Options{}, []string{"certificate's EC key is a compressed point", "conv_form uncompressed"}},
		{"truncated spki", truncated, Options{}, []string{"block 1", "the DER is malformed or truncated"}},
		{"truncated pkcs1", pemOf(t, "RSA PUBLIC KEY", pkcs1[:20]), Options{}, []string{"parsing PKCS#1 public key: the DER is malformed or truncated"}},
		{"garbage spki", pemOf(t, "PUBLIC KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}), Options{}, []string{"the DER is malformed or truncated"}},
		{"truncated certificate", pemOf(t, "CERTIFICATE", cert.Raw[:len(cert.Raw)/2]), Options{}, []string{"parsing certificate"}},
		{"pkcs1 labelled PUBLIC KEY", pemOf(t, "PUBLIC KEY", pkcs1), Options{}, []string{"PKCS#1 RSA public key, not a PKIX one", "BEGIN RSA PUBLIC KEY"}},
		{"spki labelled RSA PUBLIC KEY", pemOf(t, "RSA PUBLIC KEY", spkiRSA), Options{}, []string{"PKIX public key, not a PKCS#1 RSA one", "BEGIN PUBLIC KEY"}},
		{"x5c compressed", `{"kty":"EC","crv":"P-256","x":"AA","y":"AA","x5c":["` + b64Block(t, read("p256-compressed.crt")) + `"]}`, Options{}, []string{"x5c certificate 1: the certificate's EC key is a compressed point"}},
		{"x5c truncated", `{"kty":"EC","crv":"P-256","x":"AA","y":"AA","x5c":["` + base64.StdEncoding.EncodeToString(cert.Raw[:30]) + `"]}`, Options{}, []string{"x5c certificate 1: parsing certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := Parse([]byte(tt.input), Origin{Source: "file:k"}, tt.opts)
			if err == nil {
				t.Fatalf("accepted: %+v", keys)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			for _, bad := range []string{"asn1:", "{optional", "tags don't match", "check the PEM is a complete, unmodified public key (fix"} {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q contains %q", msg, bad)
				}
			}
			if !strings.Contains(msg, "(fix: ") {
				t.Errorf("error %q gives no fix", msg)
			}
		})
	}
}

// b64Block is the standard base64 of a one-block PEM's DER, as x5c carries it.
func b64Block(t *testing.T, pemText string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(pemText), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

// TestFixRecipes runs the openssl commands the diagnoses print on the test keys: what they
// produce must be accepted, and be the same key.
func TestFixRecipes(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	run := func(script string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		return out
	}
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata/keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The recipes as printed (after the colon, up to the parenthesis), with the placeholder
	// replaced by the file.
	recipe := func(fix, placeholder, path string) string {
		i := strings.Index(fix, ": ") + 2
		end := strings.Index(fix[i:], " (")
		if end < 0 {
			end = len(fix) - i
		}
		return strings.ReplaceAll(fix[i:i+end], placeholder, `"$1"`)
	}
	tests := []struct {
		name, fix, placeholder, file string
		wantKty                      string
		sameAs                       string // a file openssl reads with the same key, when it cannot read file
	}{
		{"rsa-pss", fixRSAPSS, "KEY.pub", "rsa-pss.pub.pem", KtyRSA, ""},
		{"rsa-pss with parameters", fixRSAPSS, "KEY.pub", "rsa-pss-sha256.pub.pem", KtyRSA, ""},
		{"rsa-pss pkcs1", fixRSAPSSPKCS1, "KEY.pem", "rsa-pss.pkcs1.pem", KtyRSA, "rsa-pss.pub.pem"},
		{"compressed", fixCompressed, "KEY.pub", "p256-compressed.pub.pem", KtyEC, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run(recipe(tt.fix, tt.placeholder, tt.file), abs(tt.file))
			keys, err := Parse(out, Origin{Source: "converted"}, Options{})
			if err != nil || len(keys) != 1 || keys[0].Kty != tt.wantKty {
				t.Fatalf("converted key: %v %+v", err, keys)
			}
			// Same key: openssl's own view of the modulus or point is unchanged.
			printed := func(file string) string {
				if tt.wantKty == KtyRSA {
					return string(run(`openssl rsa -pubin -in "$1" -noout -modulus`, file))
				}
				return string(run(`openssl ec -pubin -in "$1" -noout -text -conv_form uncompressed 2>/dev/null`, file))
			}
			converted := filepath.Join(dir, "converted.pem")
			if err := os.WriteFile(converted, out, 0o600); err != nil {
				t.Fatal(err)
			}
			orig := tt.file
			if tt.sameAs != "" {
				orig = tt.sameAs
			}
			if printed(abs(orig)) != printed(converted) {
				t.Errorf("the recipe changed the key")
			}
		})
	}
	// The private-key recipe for --derive-public input.
	out := run(`openssl pkey -in "$1" -pubout | openssl rsa -pubin -RSAPublicKey_out | sed 's/RSA-PSS PUBLIC KEY/RSA PUBLIC KEY/' | openssl rsa -RSAPublicKey_in -pubout`, abs("rsa-pss.key"))
	if keys, err := Parse(out, Origin{Source: "converted"}, Options{}); err != nil || len(keys) != 1 {
		t.Fatalf("converted private key's public half: %v", err)
	}
	_, err := Parse([]byte(mustRead(t, "testdata/keys/rsa-pss.key")), Origin{Source: "k"}, Options{DerivePublic: true})
	if err == nil || !strings.Contains(err.Error(), "openssl pkey -in KEY -pubout | openssl rsa -pubin -RSAPublicKey_out | sed") {
		t.Errorf("the private-key diagnosis does not print the recipe tested here: %v", err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// mkCert makes a day-long certificate with the given subject for key, issued by parent
// (self-signed when parent is nil).
func mkCert(t *testing.T, cn string, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, ku x509.KeyUsage) *x509.Certificate {
	t.Helper()
	return makeCert(t, cn, key, parent, parentKey, isCA, ku, time.Now().Add(24*time.Hour))
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCertificateChainsWhateverTheOrder(t *testing.T) {
	const caUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	rootKey, intKey, leafKey, otherKey := ecKey(t), ecKey(t), ecKey(t), ecKey(t)
	root := mkCert(t, "Root", rootKey, nil, nil, true, caUsage)
	inter := mkCert(t, "Intermediate", intKey, root, rootKey, true, caUsage)
	leaf := mkCert(t, "svc", leafKey, inter, intKey, false, x509.KeyUsageDigitalSignature)
	other := mkCert(t, "other", otherKey, nil, nil, false, x509.KeyUsageDigitalSignature)
	// Cross-signing: the same intermediate key and name, issued by a second root.
	root2Key := ecKey(t)
	root2 := mkCert(t, "Root 2", root2Key, nil, nil, true, caUsage)
	interX := mkCert(t, "Intermediate", intKey, root2, root2Key, true, caUsage)

	pemOfAll := func(certs ...*x509.Certificate) string {
		var b strings.Builder
		for _, c := range certs {
			b.WriteString(pemOf(t, "CERTIFICATE", c.Raw))
		}
		return b.String()
	}
	type want struct {
		block string
		chain []string // subjects, leaf first
	}
	tests := []struct {
		name  string
		input string
		want  []want
		warn  string
	}{
		{"leaf first", pemOfAll(leaf, inter, root), []want{{"block 1", []string{"svc", "Intermediate", "Root"}}}, ""},
		{"root first", pemOfAll(root, inter, leaf), []want{{"block 3", []string{"svc", "Intermediate", "Root"}}}, ""},
		{"shuffled", pemOfAll(inter, leaf, root), []want{{"block 2", []string{"svc", "Intermediate", "Root"}}}, ""},
		{"two unrelated leaves", pemOfAll(other, leaf, inter), []want{{"block 1", []string{"other"}}, {"block 2", []string{"svc", "Intermediate"}}}, ""},
		{"bare key between", pemOfAll(root) + pkixPEM(t, &otherKey.PublicKey) + pemOfAll(leaf, inter), []want{{"block 2", nil}, {"block 3", []string{"svc", "Intermediate", "Root"}}}, ""},
		{"lone ca is its own leaf", pemOfAll(root), []want{{"block 1", []string{"Root"}}}, ""},
		{"ca without its leaf is a leaf", pemOfAll(inter, root), []want{{"block 1", []string{"Intermediate", "Root"}}}, ""},
		{"cross-signed alternative left out", pemOfAll(leaf, inter, interX, root, root2), []want{{"block 1", []string{"svc", "Intermediate", "Root"}}}, "block 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			keys, err := Parse([]byte(tt.input), Origin{Source: "file:chain.pem"}, Options{Logger: slogTo(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(tt.want) {
				t.Fatalf("%d keys, want %d", len(keys), len(tt.want))
			}
			for i, w := range tt.want {
				var got []string
				for _, c := range keys[i].Certs {
					got = append(got, c.Subject.CommonName)
				}
				if keys[i].Origin.Location != w.block || !slices.Equal(got, w.chain) {
					t.Errorf("key %d: %s %q, want %s %q", i+1, keys[i].Origin.Location, got, w.block, w.chain)
				}
			}
			if tt.warn == "" && logs.Len() > 0 || tt.warn != "" && !strings.Contains(logs.String(), "file:chain.pem "+tt.warn) {
				t.Errorf("logs %q, want a warning about %q", logs.String(), tt.warn)
			}
		})
	}
}

func TestCertificateGroupingErrors(t *testing.T) {
	const caUsage = x509.KeyUsageCertSign
	aKey, bKey := ecKey(t), ecKey(t)
	// Two CAs that issued each other: no leaf, so no signing key in the file.
	aTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "A"}, SubjectKeyId: []byte{1}}
	bTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "B"}, SubjectKeyId: []byte{2}}
	mk := func(subject, issuer *x509.Certificate, key, issuerKey crypto.Signer) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: subject.Subject, SubjectKeyId: subject.SubjectKeyId,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: caUsage,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk(aTmpl, bTmpl, aKey, bKey)
	b := mk(bTmpl, aTmpl, bKey, aKey)
	// A certificate whose authority key identifier names a CA that did not sign it.
	impostorKey := ecKey(t)
	ca := mkCert(t, "CA", aKey, nil, nil, true, caUsage)
	caLookalike := &x509.Certificate{Subject: ca.Subject, SubjectKeyId: ca.SubjectKeyId} // CreateCertificate refuses a parent whose key did not sign
	impostor := mk(&x509.Certificate{Subject: pkix.Name{CommonName: "svc"}, SubjectKeyId: []byte{9}}, caLookalike, impostorKey, impostorKey)

	tests := []struct {
		name, input string
		want        []string
	}{
		{"issue one another", pemOf(t, "CERTIFICATE", a.Raw) + pemOf(t, "CERTIFICATE", b.Raw), []string{"file:c.pem block 1", "certificates in block 1, block 2 issue one another and none of them is a leaf"}},
		{"named issuer did not sign", pemOf(t, "CERTIFICATE", impostor.Raw) + pemOf(t, "CERTIFICATE", ca.Raw), []string{"file:c.pem block 1", `certificate "svc" names the certificate in block 2 ("CA") as its issuer, but its signature does not verify`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input), Origin{Source: "file:c.pem"}, Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			var se *Error
			if !errors.As(err, &se) || se.Fix == "" {
				t.Errorf("error %v has no fix", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
