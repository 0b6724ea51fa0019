//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/report"
)

// TestVaultRetireVersionsPublishedTogether follows the README's retirement procedure with a
// Transit key whose three versions are first published in the same run: status says to sign
// with the newest, and raising min_decryption_version later drops v1 through the guard like
// any rotation (removal-too-early, then accepted), never no-successor.
func TestVaultRetireVersionsPublishedTogether(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	e.write(t, mount+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})
	e.write(t, mount+"/keys/jwt/rotate", nil)
	e.write(t, mount+"/keys/jwt/rotate", nil)
	dir, out := t.TempDir(), t.TempDir()
	cfg := `sets:
  - name: prod
    sources: [vault-transit:` + mount + `/jwt]
    kid: template
    kid_template: "{{.Name}}-v{{.Version}}"
    output: {cache_control: "public, max-age=1"}
    rotation: {max_token_lifetime: 3s}
    targets:
      - file://` + filepath.Join(out, ".well-known", "jwks.json") + `
`
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "VAULT_ADDR=" + e.addr, "VAULT_TOKEN=" + os.Getenv("JWKSPUB_IT_VAULT_TOKEN")}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runJwkspub(t, bin, dir, env, args...)
	}
	if _, errOut, code := run("publish"); code != 0 {
		t.Fatalf("first publish: exit %d\n%s", code, errOut)
	}
	time.Sleep(1100 * time.Millisecond) // the safe delay (max-age=1)
	stdout, errOut, code := run("status", "--format", "json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	var st report.StatusReport
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || len(st.Timelines) != 1 {
		t.Fatalf("status output: %v\n%s", err, stdout)
	}
	tls := st.Timelines
	sup := map[string]bool{}
	for _, k := range tls[0].Keys {
		sup[k.KID] = k.Superseded != nil
	}
	if !sup["jwt-v1"] || !sup["jwt-v2"] || sup["jwt-v3"] || tls[0].SignWith == nil || tls[0].SignWith.KID != "jwt-v3" {
		t.Errorf("superseded %v, sign with %+v; want v1 and v2 superseded by v3, sign with jwt-v3", sup, tls[0].SignWith)
	}

	// Retire v1 as the README says: raise min_decryption_version. Too early first.
	e.write(t, mount+"/keys/jwt/config", map[string]any{"min_decryption_version": 2})
	_, errOut, code = run("publish")
	if code != 3 || !strings.Contains(errOut, `kid "jwt-v1": removal-too-early`) || strings.Contains(errOut, "no-successor") {
		t.Fatalf("early retirement: exit %d, want 3 with removal-too-early\n%s", code, errOut)
	}
	time.Sleep(4 * time.Second) // superseded + safe delay + max_token_lifetime
	if _, errOut, code := run("publish"); code != 0 {
		t.Fatalf("retirement after max_token_lifetime: exit %d\n%s", code, errOut)
	}
	b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
	if strings.Contains(string(b), "jwt-v1") || !strings.Contains(string(b), "jwt-v2") || !strings.Contains(string(b), "jwt-v3") {
		t.Errorf("after retirement: %s", b)
	}
}
