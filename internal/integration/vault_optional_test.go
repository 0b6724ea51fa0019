//go:build integration

package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestVaultOptionalSourceDown publishes a set from a file key and an optional Transit key,
// then publishes again while Vault (behind a proxy) answers 503: the Transit kids stay
// published and the run succeeds with a warning. The same outage with the source required
// fails and writes nothing.
func TestVaultOptionalSourceDown(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	e.write(t, mount+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})
	e.write(t, mount+"/keys/jwt/rotate", nil)
	var down atomic.Bool
	addr, _ := vaultFaultProxy(t, e.addr, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			writeVaultError(w, 503, "upstream connect error")
			return true
		}
		return false
	})
	dir, out := t.TempDir(), t.TempDir()
	fileKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	filePub := pemOf(t, &fileKey.PublicKey)
	os.WriteFile(filepath.Join(dir, "current.pub.pem"), []byte(filePub), 0o600)
	config := func(optional bool) {
		opt := "false"
		if optional {
			opt = "true"
		}
		cfg := `sets:
  - name: prod
    sources:
      - file:current.pub.pem
      - {spec: "vault-transit:` + mount + `/jwt", kid: "{{.Name}}-v{{.Version}}", optional: ` + opt + `}
    targets:
      - file://` + filepath.Join(out, ".well-known", "jwks.json") + `
`
		if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "VAULT_ADDR=" + addr, "VAULT_TOKEN=" + os.Getenv("JWKSPUB_IT_VAULT_TOKEN"), "JWKSPUB_VAULT_RETRIES=1"}
	doc := func() string {
		b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
		return string(b)
	}

	config(true)
	if _, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 {
		t.Fatalf("first publish: exit %d\n%s", code, errOut)
	}
	first := doc()
	for _, kid := range []string{`"kid":"jwt-v1"`, `"kid":"jwt-v2"`} {
		if !strings.Contains(first, kid) {
			t.Fatalf("first publication lacks %s:\n%s", kid, first)
		}
	}

	down.Store(true)
	stdout, errOut, code := runJwkspub(t, bin, dir, env, "publish")
	if code != 0 {
		t.Fatalf("publish with the optional source down: exit %d\n%s%s", code, stdout, errOut)
	}
	if !strings.Contains(errOut, "optional source unavailable") || !strings.Contains(errOut, "HTTP 503") {
		t.Errorf("no warning naming the outage:\n%s", errOut)
	}
	if doc() != first {
		t.Errorf("the live keys of the unavailable source changed:\nbefore %s\nafter  %s", first, doc())
	}

	config(false)
	_, errOut, code = runJwkspub(t, bin, dir, env, "publish")
	if code != 1 || !strings.Contains(errOut, "vault-transit:"+mount+"/jwt: unexpected vault response: "+mount+"/keys/jwt: HTTP 503") {
		t.Fatalf("required source down: exit %d\n%s", code, errOut)
	}
	if doc() != first {
		t.Errorf("a failed run changed the document")
	}
}

// TestVaultOnlyOptionalSourceSealed: the set's only source is an optional Transit key and
// Vault answers that it is sealed. publish and diff keep the live keys instead of refusing the
// empty set (exit 3), as they already did when another source still worked.
func TestVaultOnlyOptionalSourceSealed(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	e.write(t, mount+"/keys/jwt", map[string]any{"type": "ed25519"})
	var sealed atomic.Bool
	addr, _ := vaultFaultProxy(t, e.addr, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if sealed.Load() {
			writeVaultError(w, 503, "Vault is sealed")
			return true
		}
		return false
	})
	dir, out := t.TempDir(), t.TempDir()
	cfg := `sets:
  - name: prod
    sources:
      - {spec: "vault-transit:` + mount + `/jwt", kid: "{{.Name}}-v{{.Version}}", optional: true}
    targets:
      - file://` + filepath.Join(out, ".well-known", "jwks.json") + `
`
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "VAULT_ADDR=" + addr, "VAULT_TOKEN=" + os.Getenv("JWKSPUB_IT_VAULT_TOKEN")}
	doc := func() string {
		b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
		return string(b)
	}
	if _, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 {
		t.Fatalf("first publish: exit %d\n%s", code, errOut)
	}
	first := doc()
	if !strings.Contains(first, `"kid":"jwt-v1"`) {
		t.Fatalf("first publication: %s", first)
	}

	sealed.Store(true)
	for _, args := range [][]string{{"diff", "--detailed-exitcode"}, {"publish"}} {
		stdout, errOut, code := runJwkspub(t, bin, dir, env, args...)
		if code != 0 {
			t.Fatalf("%s with the only source sealed: exit %d\n%s%s", args[0], code, stdout, errOut)
		}
		if !strings.Contains(errOut, "optional source unavailable") || !strings.Contains(errOut, "vault is sealed") {
			t.Errorf("%s: no warning naming the seal:\n%s", args[0], errOut)
		}
	}
	if doc() != first {
		t.Errorf("the live keys changed:\nbefore %s\nafter  %s", first, doc())
	}
}
