// Command benchloop is the reference point of the build benchmark: the least work any
// PEM-to-JWKS converter must do, with nothing else. For every file matching a glob (sorted) it
// decodes the PEM, parses the PKIX public key, computes the RFC 7638 thumbprint as the kid and
// writes the JWK Set as JSON. No policy, no checks beyond the parsers', no configuration.
//
// BENCHMARKS.md compares `jwkspub build` with it, side by side in one run, as a ratio.
//
// Usage: benchloop -glob 'keys/*.pem' -o jwks.json
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
)

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	KID string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

func main() {
	glob := flag.String("glob", "keys/*.pem", "files to read")
	out := flag.String("o", "jwks.json", "where to write the set")
	flag.Parse()
	if err := convert(*glob, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchloop:", err)
		os.Exit(1)
	}
}

func convert(glob, out string) error {
	paths, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	sort.Strings(paths)
	b64 := base64.RawURLEncoding
	keys := make([]jwk, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return fmt.Errorf("%s: no PEM block", p)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		var k jwk
		var thumb string
		switch pk := pub.(type) {
		case *rsa.PublicKey:
			k = jwk{Kty: "RSA", Alg: "RS256", N: b64.EncodeToString(pk.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(pk.E)).Bytes())}
			thumb = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
		case *ecdsa.PublicKey:
			raw, err := pk.Bytes()
			if err != nil {
				return err
			}
			w := (len(raw) - 1) / 2
			k = jwk{Kty: "EC", Alg: "ES256", Crv: pk.Curve.Params().Name, X: b64.EncodeToString(raw[1 : 1+w]), Y: b64.EncodeToString(raw[1+w:])}
			thumb = `{"crv":"` + k.Crv + `","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
		default:
			return fmt.Errorf("%s: unsupported key %T", p, pub)
		}
		sum := sha256.Sum256([]byte(thumb))
		k.Use, k.KID = "sig", b64.EncodeToString(sum[:])
		keys = append(keys, k)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := json.NewEncoder(w).Encode(struct {
		Keys []jwk `json:"keys"`
	}{keys}); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
