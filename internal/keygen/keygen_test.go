package keygen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		kty, crv string
		alg      string
		bits     int
	}{
		{"RSA default 3072", Options{Kty: "RSA"}, "RSA", "", "RS256", 3072},
		{"RSA 2048 PS256", Options{Kty: "rsa", Bits: 2048, Alg: "PS256"}, "RSA", "", "PS256", 2048},
		{"EC default P-256", Options{Kty: "EC"}, "EC", "P-256", "ES256", 0},
		{"EC P-384", Options{Kty: "EC", Crv: "P-384"}, "EC", "P-384", "ES384", 0},
		{"EC P-521", Options{Kty: "EC", Crv: "P-521"}, "EC", "P-521", "ES512", 0},
		{"OKP", Options{Kty: "OKP"}, "OKP", "Ed25519", "EdDSA", 0},
		{"explicit kid", Options{Kty: "OKP", KID: "signing-2026"}, "OKP", "Ed25519", "EdDSA", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Generate(tt.opts)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			j := p.JWK
			if j.Kty != tt.kty || j.Crv != tt.crv || j.Alg != tt.alg || j.Use != "sig" {
				t.Errorf("JWK = %s %s %s %s", j.Kty, j.Crv, j.Alg, j.Use)
			}
			wantKID := j.Thumbprint
			if tt.opts.KID != "" {
				wantKID = tt.opts.KID
			}
			if j.KID != wantKID {
				t.Errorf("kid = %q, want %q", j.KID, wantKID)
			}
			if tt.bits != 0 && len(j.N)*8 != tt.bits {
				t.Errorf("modulus has %d bits, want %d", len(j.N)*8, tt.bits)
			}

			// The private key file holds the private half of exactly this public key.
			path := filepath.Join(t.TempDir(), "signing.pem")
			if err := p.WritePrivate(path); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("private key mode = %v, want 0600", st.Mode().Perm())
			}
			data, _ := os.ReadFile(path)
			block, _ := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("private key file is not a PKCS#8 PEM")
			}
			priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := j.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !priv.(crypto.Signer).Public().(equaler).Equal(pub) {
				t.Error("private key file does not match the public JWK")
			}
			switch priv.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			default:
				t.Errorf("unexpected private key type %T", priv)
			}

			// The public side is printed nowhere private, and matches what build publishes from
			// the env-prefix variables it prints.
			out := string(p.JWKJSON) + p.EnvLines("JWT_") + string(p.PublicPEM)
			if strings.Contains(out, "PRIVATE") {
				t.Error("public output mentions a private key")
			}
			for _, line := range strings.Split(string(data), "\n") {
				if !strings.HasPrefix(line, "-----") && len(line) > 16 && strings.Contains(out, line) {
					t.Errorf("public output carries a line of the private key PEM")
				}
			}
			env := p.PublicEnv("JWT_")
			src := &sources.EnvPrefix{Prefix: "JWT_", Opts: sources.Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, Defaults: sources.Defaults{Alg: tt.opts.Alg}}
			keys, err := src.Keys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			set, err := jwks.Assemble(keys, jwks.AssembleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jwks.Encode(set, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"keys":[` + string(p.JWKJSON) + "]}\n"; string(doc) != want {
				t.Errorf("build publishes\n%s\nkeygen printed\n%s", doc, want)
			}
		})
	}
}

// TestEnvLines checks the .env form: a quoted PEM with literal \n, and the kid, which the env
// source reads back after a .env loader strips the quotes.
func TestEnvLines(t *testing.T) {
	p, err := Generate(Options{Kty: "EC"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(p.EnvLines("APP_JWT_"), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `APP_JWT_PUBLIC_KEY="-----BEGIN PUBLIC KEY-----\n`) || !strings.HasSuffix(lines[0], `\n-----END PUBLIC KEY-----\n"`) {
		t.Fatalf("lines = %q", lines)
	}
	if lines[1] != "APP_JWT_KEY_ID="+p.JWK.KID {
		t.Errorf("kid line = %q", lines[1])
	}
	value := strings.TrimSuffix(strings.TrimPrefix(lines[0], `APP_JWT_PUBLIC_KEY="`), `"`)
	keys, err := sources.ParseEnvValue(value, sources.Origin{Source: "env:APP_JWT_PUBLIC_KEY"}, sources.Options{})
	if err != nil || len(keys) != 1 {
		t.Fatalf("env source cannot read the printed value: %v", err)
	}
	q, err := Generate(Options{Kty: "OKP", KID: "my key"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q.EnvLines("JWT_"), `JWT_KEY_ID="my key"`) {
		t.Errorf("a kid with a space is not quoted: %s", q.EnvLines("JWT_"))
	}
}

func TestWritePrivateRefusesToOverwrite(t *testing.T) {
	p, err := Generate(Options{Kty: "OKP"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.pem")
	if err := os.WriteFile(existing, []byte("old key"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(filepath.Join(dir, "elsewhere.pem"), link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{existing, link} {
		if err := p.WritePrivate(path); err == nil || !strings.Contains(err.Error(), "never overwrites") {
			t.Errorf("WritePrivate(%s) = %v, want a refusal", path, err)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "old key" {
		t.Error("existing key was changed")
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere.pem")); !os.IsNotExist(err) {
		t.Error("WritePrivate followed a symlink")
	}
	if err := p.WritePrivate(filepath.Join(dir, "no", "such", "dir.pem")); err == nil {
		t.Error("WritePrivate into a missing directory succeeded")
	}
	p.Forget()
	if err := p.WritePrivate(filepath.Join(dir, "after.pem")); err == nil {
		t.Error("WritePrivate after Forget succeeded")
	}
}

func TestGenerateRefusals(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"RSA 1024", Options{Kty: "RSA", Bits: 1024}, "2048 to 16384 bits, not 1024"},
		{"RSA huge", Options{Kty: "RSA", Bits: 32768}, "not 32768"},
		{"RSA with curve", Options{Kty: "RSA", Crv: "P-256"}, "no curve"},
		{"EC with bits", Options{Kty: "EC", Bits: 256}, "set by its curve"},
		{"EC secp256k1", Options{Kty: "EC", Crv: "secp256k1"}, `curve "secp256k1"`},
		{"OKP X25519", Options{Kty: "OKP", Crv: "X25519"}, "use Ed25519"},
		{"oct", Options{Kty: "oct"}, `kty "oct"`},
		{"empty", Options{}, `kty ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.opts)
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrBadOptions with %q", err, tt.want)
			}
		})
	}
	// A policy refusal (alg for another key type) comes from Assemble, as in build.
	_, err := Generate(Options{Kty: "EC", Alg: "RS256"})
	var pe *jwks.PolicyError
	if !errors.As(err, &pe) || pe.Violations[0].Rule != "alg-kty" {
		t.Errorf("EC with RS256: %v", err)
	}
}
