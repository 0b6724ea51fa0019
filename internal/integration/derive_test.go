//go:build integration

package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"golang.org/x/crypto/ssh"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources"
)

// privateFormats writes a private key in each format --derive-public reads for its type.
var privateFormats = map[string]func(t *testing.T, key crypto.Signer) []byte{
	"pkcs8": func(t *testing.T, key crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	},
	"pkcs1": func(t *testing.T, key crypto.Signer) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
	},
	"sec1": func(t *testing.T, key crypto.Signer) []byte {
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	},
	"openssh": func(t *testing.T, key crypto.Signer) []byte {
		block, err := ssh.MarshalPrivateKey(key, "")
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(block)
	},
	"jwk": func(t *testing.T, key crypto.Signer) []byte {
		k, err := jwk.FromRaw(key)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		return out
	},
	// A private RSA JWK with only n, e and d: checked by a round trip through d.
	"jwk-without-primes": func(t *testing.T, key crypto.Signer) []byte {
		r := key.(*rsa.PrivateKey)
		return fmt.Appendf(nil, `{"kty":"RSA","n":%q,"e":"AQAB","d":%q}`, b64.EncodeToString(r.N.Bytes()), b64.EncodeToString(r.D.Bytes()))
	},
}

// TestDerivePublicTokensVerify is the property of --derive-public: for any private key input it
// accepts, a token signed with that private key verifies with node jose, PyJWT and jwx against
// the published set (served by nginx). Keys are fresh on every run, in every format.
func TestDerivePublicTokensVerify(t *testing.T) {
	type input struct {
		s      *signer
		format string
	}
	var inputs []input
	add := func(alg string, key func(*testing.T) crypto.Signer, formats ...string) {
		for _, f := range formats {
			inputs = append(inputs, input{&signer{name: alg + "-" + f, alg: alg, key: key(t)}, f})
		}
	}
	curve := func(c elliptic.Curve) func(*testing.T) crypto.Signer {
		return func(t *testing.T) crypto.Signer { return ecKey(t, c) }
	}
	add("RS256", rsaKey, "pkcs8", "pkcs1", "openssh", "jwk", "jwk-without-primes")
	add("PS256", rsaKey, "pkcs8", "jwk")
	add("ES256", curve(elliptic.P256()), "pkcs8", "sec1", "openssh", "jwk")
	add("ES384", curve(elliptic.P384()), "pkcs8", "sec1", "openssh", "jwk")
	add("ES512", curve(elliptic.P521()), "pkcs8", "sec1", "openssh", "jwk")
	add("EdDSA", edKey, "pkcs8", "openssh", "jwk")

	dir := t.TempDir()
	set := &config.SetConfig{Name: "derived"}
	var srcs []sources.Source
	var signers []*signer
	for _, in := range inputs {
		path := filepath.Join(dir, in.s.name+".key")
		if err := os.WriteFile(path, privateFormats[in.format](t, in.s.key), 0o600); err != nil {
			t.Fatal(err)
		}
		spec := sources.Spec{Spec: "file:" + path, Alg: in.s.alg}
		set.Sources = append(set.Sources, config.SourceConfig{Spec: spec})
		src, err := sources.New(spec, sources.Options{DerivePublic: true})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
		signers = append(signers, in.s)
	}
	built, err := publish.Build(context.Background(), publish.BuildOptions{Set: set, Sources: srcs, Now: time.Now()})
	if err != nil {
		t.Fatalf("--derive-public refused a genuine key pair: %v", err)
	}
	if len(built.Keys) != len(signers) {
		t.Fatalf("%d keys published, want %d", len(built.Keys), len(signers))
	}
	kidOf := map[string]string{}
	var cases []tokenCase
	findKIDs(t, built, signers)
	for _, s := range signers {
		cases = append(cases, tokenCase{Name: s.name, Token: signJWT(t, s.alg, s.kid, s.key), def: true})
		kidOf[s.name] = s.kid
	}

	srv := startNginx(t, set, built)
	jwksURL := func(v string) string { return srv.URL + "/.well-known/jwks.json?verifier=" + v }
	checkResults(t, vJose, cases, runJose(t, jwksURL(vJose), cases), kidOf)
	py, _ := runPyJWT(t, jwksURL(vPyJWT), cases)
	checkResults(t, vPyJWT, cases, py, kidOf)
	jx, _ := runJWX(t, jwksURL(vJWX), cases, false)
	checkResults(t, vJWX, cases, jx, kidOf)
	fetchedThroughNginx(t, srv, vJose, vPyJWT, vJWX)
}
