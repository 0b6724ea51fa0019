//go:build integration

package integration

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoresCLI drives the binary against each store, so cmd/jwkspub's URL openers and the
// clouds' credential chains (here: the emulators' environment variables) are what is tested.
func TestStoresCLI(t *testing.T) {
	all := stores(t)
	bin := buildJwkspub(t)
	dir := t.TempDir()
	for i, name := range []string{"k1.pem", "k2.pem"} {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		der, err := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(seed).Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Only the standard variables each cloud's SDK reads.
	var env []string
	secrets := []string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "STORAGE_EMULATOR_HOST", "AZURE_STORAGE_CONNECTION_STRING":
			env = append(env, kv)
		}
		switch k {
		case "AWS_SECRET_ACCESS_KEY":
			secrets = append(secrets, v)
		case "AZURE_STORAGE_CONNECTION_STRING":
			for _, part := range strings.Split(v, ";") {
				if key, ok := strings.CutPrefix(part, "AccountKey="); ok {
					secrets = append(secrets, key)
				}
			}
		}
	}
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			_, bucket := freshTarget(t, s)
			url := s.targetURL(bucket)
			run := func(wantCode int, args ...string) string {
				t.Helper()
				out, errOut, code := runJwkspub(t, bin, dir, env, args...)
				if code != wantCode {
					t.Fatalf("jwkspub %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
				}
				for _, sec := range secrets {
					if strings.Contains(out+errOut, sec) {
						t.Fatalf("jwkspub %s printed a credential", strings.Join(args, " "))
					}
				}
				return out + errOut
			}
			if out := run(0, "publish", "--source", "file:k1.pem", "--target", url); !strings.Contains(out, "published (1 added") {
				t.Errorf("first publish: %s", out)
			}
			if out := run(0, "publish", "--source", "file:k1.pem", "--target", url); !strings.Contains(out, ": unchanged") {
				t.Errorf("second publish: %s", out)
			}
			run(2, "diff", "--detailed-exitcode", "--source", "file:k1.pem", "--source", "file:k2.pem", "--target", url)
			run(0, "status", "--source", "file:k1.pem", "--target", url)
			// The status page shows the headers the store keeps with the live document.
			if page := run(0, "status", "--format", "html", "-o", "-", "--source", "file:k1.pem", "--target", url); !strings.Contains(page, "<tr><td><code>Cache-Control</code></td><td><code>") {
				t.Errorf("status page without the live document's Cache-Control:\n%s", page)
			}
			// A bucket that does not exist: every read fails, exit 1, naming the target and the
			// fix; it never reads as "nothing is live yet".
			missing := strings.Replace(url, bucket, bucket+"-missing", 1)
			for _, cmd := range []string{"publish", "diff", "status"} {
				if out := run(1, cmd, "--source", "file:k1.pem", "--target", missing); !strings.Contains(out, "target "+missing) || !strings.Contains(out, "does not exist (fix: create it") || strings.Contains(out, "added") || strings.Count(out, "\n") > 4 {
					t.Errorf("missing bucket, %s: %s", cmd, out)
				}
			}
		})
	}
}
