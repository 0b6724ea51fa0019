//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

// TestRenderGuardWithNginx: `jwkspub render` into the directory a real nginx serves is judged
// by the rotation guard against what nginx serves: a set sharing no key with it is refused and
// nginx keeps serving the live keys; a fresh directory judged --against nginx's URL is refused
// the same way and not created. A proper rotation goes through, and the state render keeps in
// the directory is never served.
func TestRenderGuardWithNginx(t *testing.T) {
	set := &config.SetConfig{Name: "prod", Output: config.Output{CacheControl: "public, max-age=60"}}
	srv := startNginx(t, set, testkeys.Rot(t, 1))
	if os.Geteuid() != 0 {
		setWritable(t, srv.Dir, true)
		defer setWritable(t, srv.Dir, false)
	}
	docURL := srv.URL + "/.well-known/jwks.json"
	live := do(t, "GET", docURL)
	if live.status != 200 {
		t.Fatalf("GET %s: %d", docURL, live.status)
	}

	bin := buildJwkspub(t)
	dir := t.TempDir()
	keyFile := func(name string, seed byte) {
		t.Helper()
		doc, err := jwks.Encode(testkeys.Rot(t, seed), false)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", name), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "sets:\n  - name: prod\n    sources: [\"file:keys/*.json\"]\n    output: {cache_control: \"public, max-age=60\"}\n    rotation: {max_token_lifetime: 1h}\n"
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	render := func(ctx string, extra ...string) (string, string, int) {
		t.Helper()
		args := append([]string{"render", "--dir", ctx, "--listen", srv.listen, "--access-log", srv.AccessLog, "--temp-dir", srv.runDir}, extra...)
		return runJwkspub(t, bin, dir, []string{"HOME=" + dir}, args...)
	}

	// k1 replaced by k2 at once: refused, and nginx serves k1 as before.
	keyFile("k2.json", 2)
	_, errOut, code := render(srv.Dir)
	if code != 3 {
		t.Fatalf("render sharing no key: exit %d, want 3\n%s", code, errOut)
	}
	mustContain(t, "refusal", errOut, "target "+srv.Dir+": no-shared-key", `kid "k1": no-successor`)
	if now := do(t, "GET", docURL); now.status != 200 || string(now.body) != string(live.body) {
		t.Errorf("nginx serves %d %s after the refusal, want the live %s", now.status, now.body, live.body)
	}
	if _, err := os.Stat(filepath.Join(srv.Dir, publish.ContextState)); err == nil {
		t.Error("the refused render wrote its state")
	}

	// A fresh directory, as in CI: judged against what nginx serves.
	fresh := filepath.Join(t.TempDir(), "fresh")
	_, errOut, code = render(fresh, "--against", docURL)
	if code != 3 {
		t.Fatalf("render --against: exit %d, want 3\n%s", code, errOut)
	}
	mustContain(t, "refusal --against", errOut, "target "+docURL+": no-shared-key", `kid "k1": no-successor`)
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("the refused render created %s (%v)", fresh, err)
	}

	// k2 beside k1: accepted, and nginx serves both at once (it reads files per request).
	keyFile("k1.json", 1)
	out, errOut, code := render(srv.Dir)
	if code != 0 {
		t.Fatalf("render k1+k2: exit %d\n%s", code, errOut)
	}
	mustContain(t, "render", out, "against the earlier render: 1 added, 0 removed, 0 changed, 1 kept")
	if now := do(t, "GET", docURL); !strings.Contains(string(now.body), `"kid":"k1"`) || !strings.Contains(string(now.body), `"kid":"k2"`) {
		t.Errorf("nginx serves %s, want k1 and k2", now.body)
	}
	out, errOut, code = render(fresh, "--against", docURL)
	if code != 0 {
		t.Fatalf("render --against k1+k2: exit %d\n%s", code, errOut)
	}
	mustContain(t, "render --against", out, "against "+docURL+": 0 added, 0 removed, 0 changed, 2 kept")

	// The state lies in the directory, and no path reaches it.
	if _, err := os.Stat(filepath.Join(srv.Dir, publish.ContextState)); err != nil {
		t.Fatalf("no state in the context: %v", err)
	}
	for _, p := range []string{"/" + publish.ContextState, "/.well-known/jwks.json.state.json", "/../" + publish.ContextState, "/html/../" + publish.ContextState, "/%2e%2e/" + publish.ContextState} {
		if r := do(t, "GET", srv.URL+p); r.status == 200 || strings.Contains(string(r.body), "first_published") {
			t.Errorf("GET %s: %d %q; the state must never be served", p, r.status, r.body)
		}
	}
}
