// Command benchcorpus writes the key corpus for the build benchmark (BENCHMARKS.md): by default
// 2,000 RSA-2048 and 8,000 P-256 public keys, one PKIX PEM file each under DIR/keys, and a
// DIR/jwkspub.yaml that builds them with policy.max_keys raised to fit. See package benchkeys
// for how the RSA keys are made quickly.
//
// Usage: go run ./internal/benchcorpus -dir DIR [-rsa 2000] [-ec 8000]
package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jwkspub/jwkspub/internal/benchkeys"
)

func main() {
	dir := flag.String("dir", "", "directory to write the corpus into")
	nRSA := flag.Int("rsa", 2000, "number of RSA-2048 keys")
	nEC := flag.Int("ec", 8000, "number of P-256 keys")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "benchcorpus: -dir is required")
		os.Exit(64)
	}
	if err := Write(*dir, *nRSA, *nEC); err != nil {
		fmt.Fprintln(os.Stderr, "benchcorpus:", err)
		os.Exit(1)
	}
}

// Write writes the corpus into dir.
func Write(dir string, nRSA, nEC int) error {
	keys, err := benchkeys.Keys(nRSA, nEC)
	if err != nil {
		return err
	}
	kdir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return err
	}
	for i, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("rsa-%05d.pem", i)
		if i >= nRSA {
			name = fmt.Sprintf("ec-%05d.pem", i-nRSA)
		}
		if err := os.WriteFile(filepath.Join(kdir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			return err
		}
	}
	cfg := fmt.Sprintf("sets:\n  - name: bench\n    sources: [file:keys/*.pem]\n    policy: {max_keys: %d}\n", nRSA+nEC)
	return os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o644)
}
