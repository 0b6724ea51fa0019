package publish

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/benchkeys"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// benchSizes are the set sizes of the benchmarks: one key, a large real set, and the
// ten-thousand-key corpus of BENCHMARKS.md. One in five keys is RSA-2048, the rest P-256.
var benchSizes = []int{1, 100, 10000}

func benchKeys(b *testing.B, n int) []sources.Key {
	b.Helper()
	pubs, err := benchkeys.Keys(n/5, n-n/5)
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]sources.Key, len(pubs))
	for i, p := range pubs {
		if keys[i], err = sources.FromPublicKey(p); err != nil {
			b.Fatal(err)
		}
		keys[i].Origin = sources.Origin{Source: "bench", Location: fmt.Sprintf("key %d", i)}
	}
	return keys
}

// BenchmarkAssemble measures the policy check alone: every rule, thumbprints, kids, duplicates.
func BenchmarkAssemble(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			keys := benchKeys(b, n)
			opts := jwks.AssembleOptions{Policy: jwks.Policy{MaxKeys: n}, Now: time.Now()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwks.Assemble(keys, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode measures writing the document, including the CheckPublicOnly re-parse.
func BenchmarkEncode(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			set, err := jwks.Assemble(benchKeys(b, n), jwks.AssembleOptions{Policy: jwks.Policy{MaxKeys: n}})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwks.Encode(set, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildFiles is the library part of `jwkspub build` on the ten-thousand-key corpus:
// glob, read and parse 10,000 PEM files, assemble, encode. .ci/bench-build.sh measures the whole
// process; this one is for -cpuprofile.
func BenchmarkBuildFiles(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	pubs, err := benchkeys.Keys(n/5, n-n/5)
	if err != nil {
		b.Fatal(err)
	}
	for i, p := range pubs {
		der, err := x509.MarshalPKIXPublicKey(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.pem", i)), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg := &config.SetConfig{Name: "bench", Policy: jwks.Policy{MaxKeys: n}}
	src := &sources.File{Pattern: filepath.Join(dir, "*.pem")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		set, err := Build(ctx, BuildOptions{Set: cfg, Sources: []sources.Source{src}, Now: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jwks.Encode(set, false); err != nil {
			b.Fatal(err)
		}
	}
}
