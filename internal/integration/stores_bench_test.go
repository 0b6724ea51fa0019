//go:build integration

package integration

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkPublish1000Sets publishes a configuration of 1,000 sets (one Ed25519 key and one
// object each) to one MinIO bucket with the jwkspub binary, first to an empty bucket and then
// again with nothing changed, and reports both wall times. Run with -benchtime 1x:
//
//	go test -tags integration -run '^$' -bench Publish1000Sets -benchtime 1x ./internal/integration/
func BenchmarkPublish1000Sets(b *testing.B) {
	b.StopTimer() // only the two publishes are timed
	s3end := need(b, "JWKSPUB_IT_S3_ENDPOINT")
	dir := b.TempDir()
	bin := filepath.Join(dir, "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/jwkspub/jwkspub/cmd/jwkspub").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o755); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i), byte(i>>8)
		der, err := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(seed).Public())
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = filepath.Join(dir, "keys", fmt.Sprintf("k%04d.pem", i))
		if err := os.WriteFile(keys[i], pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		s := stores(b)[0]
		_, bucket := freshTarget(b, s)
		var cfg strings.Builder
		cfg.WriteString("sets:\n")
		for i, k := range keys {
			fmt.Fprintf(&cfg, "  - name: s%04d\n    sources: [\"file:%s\"]\n    targets: [\"%s\"]\n", i, k,
				strings.Replace(s3URL(s3end, bucket), jwksKey, fmt.Sprintf("s%04d/%s", i, jwksKey), 1))
		}
		conf := filepath.Join(dir, "jwkspub.yaml")
		if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		run := func(what, want string) time.Duration {
			cmd := exec.CommandContext(ctx, bin, "publish", "--config", conf, "--log-level", "warn")
			cmd.Env = os.Environ()
			start := time.Now()
			out, err := cmd.Output()
			d := time.Since(start)
			if err != nil {
				b.Fatalf("%s publish: %v\n%s", what, err, out)
			}
			if got := strings.Count(string(out), want); got != len(keys) {
				b.Fatalf("%s publish: %d targets %s, want %d", what, got, want, len(keys))
			}
			return d
		}
		b.StartTimer()
		first := run("first", ": published")
		unchanged := run("unchanged", ": unchanged")
		b.StopTimer()
		b.ReportMetric(first.Seconds(), "s-first")
		b.ReportMetric(unchanged.Seconds(), "s-unchanged")
	}
}
