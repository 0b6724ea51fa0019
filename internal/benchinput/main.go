// Command benchinput writes the large inputs of the input-bounds benchmark (BENCHMARKS.md,
// .ci/bench-input.sh): JWK Sets of about -size bytes each, in three shapes that each cost
// memory and messages per key.
//
//   - rsa-dup.json: one RSA-2048 public key under a new kid each time (a duplicate-key
//     violation per key; 156,696 keys at the default size);
//   - okp-many.json: distinct Ed25519 public keys (valid keys, far more than max_keys;
//     636,575);
//   - broken.json: elements without "kty" (a source error per element; 3,269,006).
//
// Usage: go run ./internal/benchinput -dir DIR [-size 61000000]
package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/jwkspub/jwkspub/internal/benchkeys"
)

func main() {
	dir := flag.String("dir", "", "directory to write the inputs into")
	size := flag.Int("size", 61_000_000, "approximate size of each JWK Set in bytes")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "benchinput: -dir is required")
		os.Exit(64)
	}
	if err := write(*dir, *size); err != nil {
		fmt.Fprintln(os.Stderr, "benchinput:", err)
		os.Exit(1)
	}
}

func write(dir string, size int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keys, err := benchkeys.Keys(1, 0)
	if err != nil {
		return err
	}
	rk := keys[0].(*rsa.PublicKey)
	b64 := base64.RawURLEncoding.EncodeToString
	n, e := b64(rk.N.Bytes()), b64(big.NewInt(int64(rk.E)).Bytes())
	shapes := []struct {
		name string
		elem func(i int) string
	}{
		{"rsa-dup.json", func(i int) string {
			return fmt.Sprintf(`{"kty":"RSA","kid":"k%d","n":"%s","e":"%s"}`, i, n, e)
		}},
		{"okp-many.json", func(i int) string {
			seed := make([]byte, ed25519.SeedSize)
			binary.BigEndian.PutUint64(seed, uint64(i))
			pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
			return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":"k%d","x":"%s"}`, i, b64(pub))
		}},
		{"broken.json", func(i int) string { return fmt.Sprintf(`{"kid":"k%d"}`, i) }},
	}
	for _, s := range shapes {
		if err := writeSet(filepath.Join(dir, s.name), size, s.elem); err != nil {
			return err
		}
	}
	return nil
}

func writeSet(path string, size int, elem func(int) string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"keys":[`)
	written := 0
	for i := 0; written < size; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		m, _ := w.WriteString(elem(i))
		written += m + 1
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
