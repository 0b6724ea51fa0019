//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// TestVaultVersionsTogetherThumbprintKIDs: Transit v1 and v2 first published together with
// thumbprint kids, where v1's kid sorts after v2's. status must name v2, from the source's
// order, and show each kid's version. Then the render: rotating Transit and raising
// min_decryption_version past every rendered version is refused, and the directory nginx
// serves stays as it was.
func TestVaultVersionsTogetherThumbprintKIDs(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	bin := buildJwkspub(t)
	env := []string{"VAULT_ADDR=" + e.addr, "VAULT_TOKEN=" + os.Getenv("JWKSPUB_IT_VAULT_TOKEN")}

	// Thumbprints are random: new keys until v1's kid sorts after v2's, as in the report.
	var dir, key, v1, v2 string
	for attempt := 0; attempt < 16 && v1 <= v2; attempt++ {
		key = fmt.Sprintf("jwt%d", attempt)
		e.write(t, mount+"/keys/"+key, map[string]any{"type": "ecdsa-p256"})
		e.write(t, mount+"/keys/"+key+"/rotate", nil)
		dir = t.TempDir()
		cfg := `sets:
  - name: prod
    sources: [vault-transit:` + mount + `/` + key + `]
    kid: thumbprint
    output: {cache_control: "public, max-age=1"}
    rotation: {max_token_lifetime: 1h}
    targets:
      - file://` + filepath.Join(dir, "www", ".well-known", "jwks.json") + `
`
		if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := runJwkspub(t, bin, dir, append(env, "HOME="+dir), "publish"); code != 0 {
			t.Fatalf("publish: exit %d\n%s", code, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, "www", ".well-known", "jwks.json.state.json"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := rotation.ParseState(b)
		if err != nil {
			t.Fatal(err)
		}
		v1, v2 = "", ""
		for _, k := range st.Keys {
			switch k.Version {
			case 1:
				v1 = k.KID
			case 2:
				v2 = k.KID
			}
		}
		if v1 == "" || v2 == "" {
			t.Fatalf("state without the Transit versions:\n%s", b)
		}
	}
	if v1 <= v2 {
		t.Fatalf("no key in 16 whose v1 kid sorts after v2's")
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runJwkspub(t, bin, dir, append(env, "HOME="+dir), args...)
	}
	time.Sleep(1100 * time.Millisecond) // the safe delay (max-age=1)
	out, errOut, code := run("status")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	src := "vault-transit:" + mount + "/" + key
	mustContain(t, "status", out,
		"  "+v1+" ("+src+" v1, live)",
		"  "+v2+" ("+src+" v2, live)",
		"  sign with: "+v2+" (the newest key every verifier has)")
	out, _, _ = run("status", "--format", "json")
	var js report.StatusReport
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js.Timelines) != 1 || js.Timelines[0].SignWith == nil ||
		js.Timelines[0].SignWith.KID != v2 || js.Timelines[0].SignWith.Version != 2 {
		t.Fatalf("status json: %v, want sign_with %s\n%s", err, v2, out)
	}

	// render into the directory nginx serves, then the rotation of the report: v3, and
	// min_decryption_version 3, so the new set shares no key with the rendered one.
	ctx := filepath.Join(dir, "ctx")
	if _, errOut, code := run("render", "--dir", ctx); code != 0 {
		t.Fatalf("render: exit %d\n%s", code, errOut)
	}
	before, _ := os.ReadFile(filepath.Join(ctx, "html", ".well-known", "jwks.json"))
	beforeState, _ := os.ReadFile(filepath.Join(ctx, "jwks.json.state.json"))
	e.write(t, mount+"/keys/"+key+"/rotate", nil)
	e.write(t, mount+"/keys/"+key+"/config", map[string]any{"min_decryption_version": 3})
	_, errOut, code = run("render", "--dir", ctx)
	if code != 3 {
		t.Fatalf("render after the rotation: exit %d, want 3\n%s", code, errOut)
	}
	mustContain(t, "render refusal", errOut, "refused by the rotation guard, nothing written",
		`target `+ctx+`: no-shared-key`, `kid "`+v1+`": removal-too-early`, `kid "`+v2+`": no-successor`)
	after, _ := os.ReadFile(filepath.Join(ctx, "html", ".well-known", "jwks.json"))
	afterState, _ := os.ReadFile(filepath.Join(ctx, "jwks.json.state.json"))
	if string(before) != string(after) || string(beforeState) != string(afterState) {
		t.Error("the refused render changed the directory")
	}
}
