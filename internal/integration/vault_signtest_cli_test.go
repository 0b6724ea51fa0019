//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// TestVaultSignTestCLI runs `jwkspub verify --vault-sign-test` against the dev server: one
// Transit key per JWS alg; a token allowed to sign passes, one with only read gets the 403
// naming "update" on MOUNT/sign/KEY, and a signature altered on the way is a refusal (exit 3).
func TestVaultSignTestCLI(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	cases := []struct{ alg, keyType string }{
		{"RS256", "rsa-2048"}, {"PS256", "rsa-2048"}, {"ES256", "ecdsa-p256"}, {"ES384", "ecdsa-p384"}, {"ES512", "ecdsa-p521"}, {"EdDSA", "ed25519"},
	}
	var cfg strings.Builder
	cfg.WriteString("sets:\n  - name: signers\n    kid: template\n    kid_template: \"{{.Name}}-v{{.Version}}\"\n    sources:\n")
	for _, c := range cases {
		name := strings.ToLower(c.alg)
		e.write(t, mount+"/keys/"+name, map[string]any{"type": c.keyType})
		e.write(t, mount+"/keys/"+name+"/rotate", nil)
		fmt.Fprintf(&cfg, "      - {spec: \"vault-transit:%s/%s\", alg: %s}\n", mount, name, c.alg)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	readPol, signPol := vaultName("read"), vaultName("sign")
	e.root.Sys().PutPolicy(readPol, `path "`+mount+`/keys/*" { capabilities = ["read"] }`)
	e.root.Sys().PutPolicy(signPol, `path "`+mount+`/keys/*" { capabilities = ["read"] }
path "`+mount+`/sign/*" { capabilities = ["update"] }`)
	t.Cleanup(func() { e.root.Sys().DeletePolicy(readPol); e.root.Sys().DeletePolicy(signPol) })
	token := func(pol string) string {
		s, err := e.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{pol}, TTL: "10m"})
		if err != nil {
			t.Fatal(err)
		}
		return s.Auth.ClientToken
	}
	bin := buildJwkspub(t)
	env := func(addr, tok string) []string {
		return []string{"HOME=" + dir, "VAULT_ADDR=" + addr, "VAULT_TOKEN=" + tok}
	}

	t.Run("signer policy: every probe verifies", func(t *testing.T) {
		out, errOut, code := runJwkspub(t, bin, dir, env(e.addr, token(signPol)), "verify", "--vault-sign-test")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, c := range cases {
			name := strings.ToLower(c.alg)
			want := fmt.Sprintf("sign-test ok: vault-transit:%s/%s version 2, kid %s-v2, %s", mount, name, name, c.alg)
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("read-only policy: 403 names update on the sign path", func(t *testing.T) {
		_, errOut, code := runJwkspub(t, bin, dir, env(e.addr, token(readPol)), "verify", "--vault-sign-test")
		want := fmt.Sprintf(`the token's policy must grant "update" on "%s/sign/rs256"`, mount)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("exit %d, stderr:\n%s\nwant %s", code, errOut, want)
		}
	})
	t.Run("a signature altered on the way: refused", func(t *testing.T) {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequest(r.Method, e.addr+r.URL.RequestURI(), r.Body)
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if strings.Contains(r.URL.Path, "/sign/es256") {
				var m map[string]any
				json.Unmarshal(body, &m)
				data := m["data"].(map[string]any)
				sig := data["signature"].(string)
				// Change one character in the middle: still base64, no longer valid.
				i, c := len(sig)/2+4, byte('A')
				if sig[i] == 'A' {
					c = 'B'
				}
				data["signature"] = sig[:i] + string(c) + sig[i+1:]
				body, _ = json.Marshal(m)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, bytes.NewReader(body))
		}))
		t.Cleanup(proxy.Close)
		out, errOut, code := runJwkspub(t, bin, dir, env(proxy.URL, token(signPol)), "verify", "--vault-sign-test")
		if code != 3 || !strings.Contains(errOut, "the probe Vault signed does not verify against the built set") || !strings.Contains(out, "sign-test FAILED: vault-transit:"+mount+"/es256") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		if !strings.Contains(out, "sign-test ok: vault-transit:"+mount+"/rs256") {
			t.Errorf("the other probes were not reported:\n%s", out)
		}
	})
}
