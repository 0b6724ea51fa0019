package publish

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"

	"github.com/jwkspub/jwkspub/sources"
)

// t0 is the fixed clock the rotation tests start at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fileTarget opens a directory target the way cmd/jwkspub does (temporary files beside the
// document, directory created on first write).
func fileTarget(t testing.TB, dir string) *Target {
	t.Helper()
	loc, err := SplitTarget("file://" + filepath.ToSlash(filepath.Join(dir, ".well-known", "jwks.json")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fileblob.OpenBucket(filepath.Join(dir, ".well-known"), &fileblob.Options{CreateDir: true, NoTempDir: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &Target{Location: loc, Bucket: b}
}

// rotKeys is an Ed25519 set from seeds, every key from one configured source so that a new
// key supersedes the older ones. Kids are k<seed>, so tests read easily.
func rotKeys(t testing.TB, seeds ...byte) *Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", s),
			Origin: sources.Origin{Source: fmt.Sprintf("file:keys/k%d.pem", s), Location: "block 1"}})
	}
	set, err := Assemble(keys, AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Keys {
		set.Keys[i].Spec = "file:keys/*.pem"
	}
	return set
}

func testSet(name string) *SetConfig {
	mtl := Duration(24 * time.Hour)
	return &SetConfig{Name: name, Output: Output{CacheControl: "public, max-age=60"}, Rotation: Rotation{MaxTokenLifetime: mtl}}
}

// publishAt plans, guards and applies like `jwkspub publish` at the given time.
func publishAt(t *testing.T, tg *Target, cfg *SetConfig, keys *Set, now time.Time, g GuardOptions) (*Plan, error) {
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

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		raw, bucket, key string
		err              string
	}{
		{raw: "file:///srv/www/.well-known/jwks.json", bucket: "file:///srv/www/.well-known", key: "jwks.json"},
		{raw: "file:///jwks.json", bucket: "file:///", key: "jwks.json"},
		{raw: "file:///srv/www/jwks.json?create_dir=1", bucket: "file:///srv/www?create_dir=1", key: "jwks.json"},
		{raw: "s3://bucket/.well-known/jwks.json?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true",
			bucket: "s3://bucket?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true", key: ".well-known/jwks.json"},
		{raw: "gs://b/keys/jwks.json", bucket: "gs://b", key: "keys/jwks.json"},
		{raw: "azblob://container/.well-known/jwks.json", bucket: "azblob://container", key: ".well-known/jwks.json"},
		{raw: "oci://registry.local/jwks:1", err: "not a file or object-store target"},
		{raw: "s3://bucket", err: "use s3://BUCKET/path/jwks.json"},
		{raw: "file://host/x/jwks.json", err: "use file:///absolute/dir/jwks.json"},
		{raw: "ftp://x/y", err: "unknown scheme"},
		{raw: "file:///srv/jwks.json?metadata=skip", err: "metadata=skip is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			loc, err := SplitTarget(tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.BucketURL != tt.bucket || loc.Key != tt.key {
				t.Errorf("got bucket %q key %q, want %q %q", loc.BucketURL, loc.Key, tt.bucket, tt.key)
			}
		})
	}
	loc, _ := SplitTarget("s3://b/.well-known/jwks.json")
	if loc.DiscoveryKey() != ".well-known/openid-configuration" || loc.StateKey() != ".well-known/jwks.json.state.json" || loc.GzipKey() != ".well-known/jwks.json.gz" {
		t.Errorf("sibling keys: %q %q %q", loc.DiscoveryKey(), loc.StateKey(), loc.GzipKey())
	}
}

func TestFirstPublishThenUnchanged(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
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
	want, _ := Encode(keys, false)
	if !bytes.Equal(doc, want) {
		t.Fatalf("published %s, want %s", doc, want)
	}
	live, err := tg.read(context.Background(), "jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	if live.CacheControl != "public, max-age=60" || live.ContentType != "application/json" || live.Metadata[MetaSHA256] != live.SHA256() || live.Metadata[MetaVersion] != "test" {
		t.Errorf("headers: %+v", live)
	}
	gz, err := tg.read(context.Background(), "jwks.json.gz")
	if err != nil || gz == nil || gz.ContentEncoding != "gzip" || !bytes.Equal(gz.Body, gzipBytes(doc)) {
		t.Fatalf("gz sibling: %+v %v", gz, err)
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

	// A header change alone is a change.
	cfg.Output.CacheControl = "public, max-age=300"
	p, err = PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: keys, Now: t0.Add(time.Hour), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Headers) != 1 || p.Headers[0].Old != "public, max-age=60" || !p.Changed() {
		t.Errorf("header change: %+v", p)
	}
	// Turning gzip off deletes the stale sibling rather than leaving it to be served.
	cfg.Output.Gzip = false
	p, _ = PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: keys, Now: t0.Add(time.Hour), Version: "test"})
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
	golden(t, "discovery.json", got)

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
	b, _ := fileblob.OpenBucket(dir, nil)
	defer b.Close()
	loc, _ := SplitTarget("file://" + dir + "/jwks.json")
	cfg.Issuer = "https://oidc.example.com"
	_, err = PlanTarget(context.Background(), &Target{Location: loc, Bucket: b}, PlanOptions{Set: cfg, Keys: keys, Now: t0})
	if err == nil || !strings.Contains(err.Error(), "put the JWKS under a .well-known directory") {
		t.Errorf("err = %v", err)
	}
}

// TestCrashBetweenWrites kills a publishing process after the new document is in its temporary
// file and before the rename: the previous document must be whole.
func TestCrashBetweenWrites(t *testing.T) {
	if dir := os.Getenv("JWKSPUB_CRASH_DIR"); dir != "" {
		tg := fileTarget(t, dir)
		tg.afterTempWrite = func(key string) {
			if key == "jwks.json" {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				time.Sleep(time.Minute)
			}
		}
		_, _ = publishAt(t, tg, testSet("prod"), rotKeys(t, 1, 2), t0.Add(time.Hour), GuardOptions{})
		t.Fatal("the hook did not kill the process")
	}
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	if _, err := publishAt(t, tg, testSet("prod"), rotKeys(t, 1), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json"))

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBetweenWrites$")
	cmd.Env = append(os.Environ(), "JWKSPUB_CRASH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed: %v\n%s", err, out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json"))
	if !bytes.Equal(before, after) {
		t.Fatalf("document changed by a crashed publish:\nbefore %s\nafter  %s", before, after)
	}
	// The next run sees a consistent target and publishes.
	p, err := publishAt(t, tg, testSet("prod"), rotKeys(t, 1, 2), t0.Add(2*time.Hour), GuardOptions{})
	if err != nil || !p.Changed() {
		t.Fatalf("after crash: %v %v", p, err)
	}
}

// TestWriteGoesThroughTempFile checks the atomic write: when the bytes are complete and synced
// in a temporary file beside the document, the document itself is still the old one.
func TestWriteGoesThroughTempFile(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	wk := filepath.Join(dir, ".well-known")
	if _, err := publishAt(t, tg, testSet("prod"), rotKeys(t, 1), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(filepath.Join(wk, "jwks.json"))
	want, _ := Encode(rotKeys(t, 1, 2), false)
	called := false
	tg.afterTempWrite = func(key string) {
		if key != "jwks.json" {
			return
		}
		called = true
		tmps, _ := filepath.Glob(filepath.Join(wk, "jwks.json.*.tmp"))
		if len(tmps) != 1 {
			t.Fatalf("temporary files beside the document: %v", tmps)
		}
		if got, _ := os.ReadFile(tmps[0]); !bytes.Equal(got, want) {
			t.Errorf("temporary file holds %q, want the whole new document", got)
		}
		if cur, _ := os.ReadFile(filepath.Join(wk, "jwks.json")); !bytes.Equal(cur, old) {
			t.Error("the document changed before the rename")
		}
	}
	if _, err := publishAt(t, tg, testSet("prod"), rotKeys(t, 1, 2), t0.Add(time.Hour), GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("hook not called")
	}
	if tmps, _ := filepath.Glob(filepath.Join(wk, "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// TestReadBackCatchesTampering: verify compares what is stored with what was meant.
func TestReadBackCatchesTampering(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	o := &Object{Body: []byte(`{"keys":[]}` + "\n"), CacheControl: "public, max-age=60", ContentType: "application/json"}
	ctx := context.Background()
	if err := tg.write(ctx, "x.json", o, revision{}); err != nil {
		t.Fatal(err)
	}
	if err := tg.verify(ctx, "x.json", o); err != nil {
		t.Fatalf("verify after a good write: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".well-known", "x.json"), []byte(`{"keys":[1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tg.verify(ctx, "x.json", o); err == nil || !strings.Contains(err.Error(), "body sha256") {
		t.Errorf("verify after tampering: %v", err)
	}
	o2 := *o
	o2.CacheControl = "public, max-age=900"
	_ = tg.write(ctx, "y.json", o, revision{})
	if err := tg.verify(ctx, "y.json", &o2); err == nil || !strings.Contains(err.Error(), "headers are") {
		t.Errorf("verify with other headers: %v", err)
	}
	if err := tg.verify(ctx, "missing.json", o); err == nil || !strings.Contains(err.Error(), "missing after the write") {
		t.Errorf("verify of a missing object: %v", err)
	}
}
