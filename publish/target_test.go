package publish

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/golden"
	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target/file"
	"github.com/jwkspub/jwkspub/templates"
)

// t0 is the fixed clock the rotation tests start at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fileTarget opens a directory target the way cmd/jwkspub does, at dir/.well-known/jwks.json.
func fileTarget(t testing.TB, dir string) Destination { return fileTargetGzip(t, dir, false) }

// fileTargetGzip is fileTarget with output.gzip set to gz.
func fileTargetGzip(t testing.TB, dir string, gz bool) Destination {
	t.Helper()
	wk := filepath.Join(dir, ".well-known")
	ft, err := file.New(wk, "jwks.json", file.Options{Gzip: gz, CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	return Destination{URL: "file://" + filepath.ToSlash(filepath.Join(wk, "jwks.json")), Target: ft}
}

// rotKeys is an Ed25519 set from seeds, every key from one configured source so that a new
// key supersedes the older ones. Kids are k<seed>, so tests read easily.
func rotKeys(t testing.TB, seeds ...byte) *jwks.Set { return testkeys.Rot(t, seeds...) }

func testSet(name string) *config.SetConfig {
	mtl := rotation.Duration(24 * time.Hour)
	return &config.SetConfig{Name: name, Output: config.Output{CacheControl: "public, max-age=60"}, Rotation: rotation.Rules{MaxTokenLifetime: mtl}}
}

// publishAt plans, guards and applies like `jwkspub publish` at the given time.
func publishAt(t *testing.T, tg Destination, cfg *config.SetConfig, keys *jwks.Set, now time.Time, g GuardOptions) (*Plan, error) {
	t.Helper()
	p, err := PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: keys, Now: now, Version: "test"})
	if err != nil {
		return nil, err
	}
	if err := Guard([]*Plan{p}, g); err != nil {
		return p, err
	}
	return p, Apply(context.Background(), p)
}

func TestFirstPublishThenUnchanged(t *testing.T) {
	dir := t.TempDir()
	tg := fileTargetGzip(t, dir, true)
	cfg := testSet("prod")
	cfg.Output.Gzip = true
	keys := rotKeys(t, 1)
	p, err := publishAt(t, tg, cfg, keys, t0, GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.First || len(p.Objects) != 3 {
		t.Fatalf("first plan: first=%v objects=%v", p.First, p.Objects)
	}
	wk := filepath.Join(dir, ".well-known")
	doc, err := os.ReadFile(filepath.Join(wk, "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := jwks.Encode(keys, false)
	if !bytes.Equal(doc, want) {
		t.Fatalf("published %s, want %s", doc, want)
	}
	gz, err := os.ReadFile(filepath.Join(wk, "jwks.json.gz"))
	if err != nil || !bytes.Equal(gz, templates.Gzip(doc)) {
		t.Fatalf("gz sibling: %v", err)
	}
	var mtimes []time.Time
	for _, n := range []string{"jwks.json", "jwks.json.gz", "jwks.json.state.json"} {
		fi, err := os.Stat(filepath.Join(wk, n))
		if err != nil {
			t.Fatal(err)
		}
		mtimes = append(mtimes, fi.ModTime())
	}
	time.Sleep(20 * time.Millisecond) // so a rewrite would show in the mtime

	// An hour later, the same keys: nothing to write, and nothing written.
	p, err = publishAt(t, tg, cfg, rotKeys(t, 1), t0.Add(time.Hour), GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() || p.First {
		t.Fatalf("unchanged set planned %v", p.Objects)
	}
	for i, n := range []string{"jwks.json", "jwks.json.gz", "jwks.json.state.json"} {
		fi, _ := os.Stat(filepath.Join(wk, n))
		if !fi.ModTime().Equal(mtimes[i]) {
			t.Errorf("%s was rewritten", n)
		}
	}

	// A header change alone rewrites nothing in a directory, which keeps no headers (nginx
	// serves them from its configuration).
	cfg.Output.CacheControl = "public, max-age=300"
	p, err = PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: keys, Now: t0.Add(time.Hour), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() {
		t.Errorf("header change on a directory: %+v", p.Objects)
	}
	// Turning gzip off deletes the stale sibling with the next document rather than leaving
	// it to be served.
	cfg.Output.Gzip = false
	plain, err := file.New(wk, "jwks.json", file.Options{CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = PlanTarget(context.Background(), Destination{URL: tg.URL, Target: plain}, PlanOptions{Set: cfg, Keys: rotKeys(t, 1, 2), Now: t0.Add(time.Hour), Version: "test"})
	if err := Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(wk, "jwks.json.gz")); !os.IsNotExist(err) {
		t.Errorf("gz sibling left behind: %v", err)
	}
}

func TestDiscoveryDocument(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	tg.PublicURL = "https://cdn.example.com/.well-known/jwks.json"
	cfg := testSet("k8s")
	cfg.Issuer = "https://oidc.example.com"
	keys := rotKeys(t, 1, 2)
	p, err := publishAt(t, tg, cfg, keys, t0, GuardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Discovery != ActionAdd {
		t.Errorf("discovery = %q", p.Discovery)
	}
	got, err := os.ReadFile(filepath.Join(dir, ".well-known", "openid-configuration"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "discovery.json", got)

	// Dropping the issuer deletes the discovery document.
	cfg.Issuer = ""
	p, _ = publishAt(t, tg, cfg, keys, t0, GuardOptions{})
	if p.Discovery != ActionRemove {
		t.Errorf("discovery = %q, want remove", p.Discovery)
	}
	if _, err := os.Stat(filepath.Join(dir, ".well-known", "openid-configuration")); !os.IsNotExist(err) {
		t.Errorf("discovery document left: %v", err)
	}

	// An issuer's discovery document must be under .well-known: refused otherwise.
	ft, err := file.New(dir, "jwks.json", file.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "https://oidc.example.com"
	_, err = PlanTarget(context.Background(), Destination{URL: "file://" + dir + "/jwks.json", Target: ft}, PlanOptions{Set: cfg, Keys: keys, Now: t0})
	if err == nil || !strings.Contains(err.Error(), "put the JWKS under a .well-known directory") {
		t.Errorf("err = %v", err)
	}
}
