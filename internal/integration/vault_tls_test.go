//go:build integration

package integration

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// startTLSVault starts a second, TLS-only dev server (`vault server -dev -dev-tls`, which
// generates its own CA) on a free loopback port, and returns its address and CA file.
func startTLSVault(t *testing.T) (addr, caFile string) {
	t.Helper()
	bin := os.Getenv("JWKSPUB_IT_VAULT_BIN")
	if bin == "" {
		t.Fatal("JWKSPUB_IT_VAULT_BIN is not set: run .ci/services.sh start")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostport := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "server", "-dev", "-dev-tls", "-dev-tls-cert-dir="+dir, "-dev-root-token-id=root", "-dev-listen-address="+hostport)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	logf, _ := os.Create(filepath.Join(dir, "vault.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	addr, caFile = "https://"+hostport, filepath.Join(dir, "vault-ca.pem")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(caFile); err == nil {
			cfg := &api.Config{Address: addr, MaxRetries: 0, Timeout: 2 * time.Second}
			if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: caFile}); err == nil {
				if c, err := api.NewClient(cfg); err == nil {
					if h, err := c.Sys().HealthWithContext(context.Background()); err == nil && h.Initialized && !h.Sealed {
						return addr, caFile
					}
				}
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "vault.log"))
			t.Fatalf("TLS dev server not ready after 60s:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVaultTLSAndNamespace: the CLI honours VAULT_CACERT against a TLS Vault (and says to set
// it when it is missing, without retrying), and sends VAULT_NAMESPACE on every request.
func TestVaultTLSAndNamespace(t *testing.T) {
	addr, ca := startTLSVault(t)
	cfg := &api.Config{Address: addr, MaxRetries: 0}
	if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: ca}); err != nil {
		t.Fatal(err)
	}
	root, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken("root")
	if err := root.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("transit/keys/jwt", map[string]any{"type": "ed25519"}); err != nil {
		t.Fatal(err)
	}
	bin := buildJwkspub(t)
	dir := t.TempDir()
	base := []string{"HOME=" + dir, "VAULT_TOKEN=root", "JWKSPUB_VAULT_RETRIES=2"}

	t.Run("VAULT_CACERT", func(t *testing.T) {
		out, errOut, code := runJwkspub(t, bin, dir, append(base, "VAULT_ADDR="+addr, "VAULT_CACERT="+ca), "build", "--source", "vault-transit:transit/jwt", "-o", "-")
		if code != 0 || !strings.Contains(out, `"crv":"Ed25519"`) {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("no VAULT_CACERT", func(t *testing.T) {
		_, errOut, code := runJwkspub(t, bin, dir, append(base, "VAULT_ADDR="+addr), "build", "--source", "vault-transit:transit/jwt", "-o", "-")
		if code != 1 || !strings.Contains(errOut, "vault unreachable") || !strings.Contains(errOut, "certificate") || !strings.Contains(errOut, "fix: set VAULT_CACERT") {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		t.Logf("message: %s", errOut)
		if strings.Contains(errOut, "attempts") {
			t.Errorf("a certificate error was retried:\n%s", errOut)
		}
	})
	t.Run("VAULT_NAMESPACE", func(t *testing.T) {
		// Namespaces are a Vault Enterprise feature; the open-source dev server ignores the
		// header. A proxy in front of the plain dev server records it on every request.
		e := newVaultEnv(t)
		mount := e.mount(t, "transit", nil)
		e.write(t, mount+"/keys/jwt", map[string]any{"type": "ed25519"})
		var (
			mu  sync.Mutex
			got []string
		)
		proxy, _ := vaultFaultProxy(t, e.addr, func(_ int64, _ http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			got = append(got, r.Header.Get("X-Vault-Namespace"))
			mu.Unlock()
			return false
		})
		_, errOut, code := runJwkspub(t, bin, dir, []string{"HOME=" + dir, "VAULT_ADDR=" + proxy, "VAULT_TOKEN=" + os.Getenv("JWKSPUB_IT_VAULT_TOKEN"), "VAULT_NAMESPACE=team-a/jwt"},
			"build", "--source", "vault-transit:"+mount+"/jwt", "-o", "-")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			t.Fatal("no request reached the proxy")
		}
		for _, ns := range got {
			if ns != "team-a/jwt" {
				t.Errorf("a request carried namespace %q, want team-a/jwt", ns)
			}
		}
	})
}
