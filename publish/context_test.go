package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/templates"
)

// edKeys returns Ed25519 public keys made from the given seeds: with thumbprint kids every
// such key encodes to the same length, which is what a same-size rotation needs.
func edKeys(t testing.TB, seeds ...byte) *jwks.Set { return testkeys.Thumbprinted(t, seeds...) }

// nginxETag is how nginx (ngx_http_set_etag) makes a static file's ETag.
func nginxETag(mod time.Time, size int) string {
	return fmt.Sprintf(`"%x-%x"`, mod.Unix(), size)
}

func contextMap(t *testing.T, o ContextOptions) map[string]ContextFile {
	t.Helper()
	files, err := RenderContext(o)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]ContextFile{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

func TestRenderContextFiles(t *testing.T) {
	keys := edKeys(t, 1, 2)
	for _, tc := range []struct {
		name   string
		set    config.SetConfig
		want   []string
		absent []string
	}{
		{
			name: "issuer",
			set:  config.SetConfig{Name: "prod", Issuer: "https://auth.example.com", Output: config.Output{CacheControl: "public, max-age=60", ContentType: "application/jwk-set+json"}},
			want: []string{"Dockerfile", "nginx.conf", "html/.well-known/jwks.json", "html/.well-known/jwks.json.gz", "html/.well-known/openid-configuration", "html/.well-known/openid-configuration.gz"},
		},
		{
			name:   "no-issuer",
			set:    config.SetConfig{Name: "prod"},
			want:   []string{"Dockerfile", "nginx.conf", "html/.well-known/jwks.json", "html/.well-known/jwks.json.gz"},
			absent: []string{"html/.well-known/openid-configuration", "html/.well-known/openid-configuration.gz"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := contextMap(t, ContextOptions{Set: &tc.set, Keys: keys, Params: templates.Defaults()})
			if len(m) != len(tc.want) {
				t.Errorf("got %d files, want %d", len(m), len(tc.want))
			}
			for _, p := range tc.want {
				f, ok := m[p]
				if !ok {
					t.Fatalf("no %s", p)
				}
				if !f.ModTime.Equal(templates.ContentModTime(f.Data)) {
					t.Errorf("%s: mtime not derived from content", p)
				}
				if f.ModTime.Before(templates.ModTimeEpoch) || f.ModTime.After(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("%s: mtime %v outside 1990..2024", p, f.ModTime)
				}
			}
			for _, p := range tc.absent {
				if _, ok := m[p]; ok {
					t.Errorf("%s written without an issuer", p)
				}
			}
			doc, _ := jwks.Encode(keys, false)
			if !bytes.Equal(m[ContextJWKS].Data, doc) {
				t.Error("jwks.json is not the encoded set")
			}
			for _, p := range tc.want {
				if !strings.HasSuffix(p, ".gz") {
					continue
				}
				zr, err := gzip.NewReader(bytes.NewReader(m[p].Data))
				if err != nil {
					t.Fatal(err)
				}
				plain, _ := io.ReadAll(zr)
				if !bytes.Equal(plain, m[strings.TrimSuffix(p, ".gz")].Data) {
					t.Errorf("%s does not decompress to its document", p)
				}
			}
			conf := string(m["nginx.conf"].Data)
			cc, ct := tc.set.Output.CacheControl, tc.set.Output.ContentType
			if cc == "" {
				cc, ct = config.DefaultCacheControl, config.DefaultContentType
			}
			for _, want := range []string{`add_header Cache-Control "` + cc + `";`, "default_type " + ct + ";"} {
				if !strings.Contains(conf, want) {
					t.Errorf("nginx.conf lacks %q", want)
				}
			}
			if got := strings.Contains(conf, "location = /.well-known/openid-configuration"); got != (tc.set.Issuer != "") {
				t.Errorf("nginx.conf serves the discovery document: %v, issuer %q", got, tc.set.Issuer)
			}
		})
	}
}

// TestSameSizeRotationChangesETag: a rotation [A,B] → [B,C] keeps the document's length; the
// validator nginx derives from mtime and size must still change, or verifiers revalidating
// with If-None-Match would keep the old keys.
func TestSameSizeRotationChangesETag(t *testing.T) {
	set := &config.SetConfig{Name: "prod"}
	before := contextMap(t, ContextOptions{Set: set, Keys: edKeys(t, 1, 2), Params: templates.Defaults()})
	after := contextMap(t, ContextOptions{Set: set, Keys: edKeys(t, 2, 3), Params: templates.Defaults()})
	again := contextMap(t, ContextOptions{Set: set, Keys: edKeys(t, 2, 3), Params: templates.Defaults()})
	for _, p := range []string{ContextJWKS, ContextJWKS + ".gz"} {
		b, a := before[p], after[p]
		if bytes.Equal(b.Data, a.Data) {
			t.Fatalf("%s: the rotation did not change the document", p)
		}
		if p == ContextJWKS && len(b.Data) != len(a.Data) {
			t.Fatalf("%s: lengths %d and %d: the test needs equal lengths", p, len(b.Data), len(a.Data))
		}
		if nginxETag(b.ModTime, len(b.Data)) == nginxETag(a.ModTime, len(a.Data)) {
			t.Errorf("%s: ETag %s repeats after the rotation", p, nginxETag(a.ModTime, len(a.Data)))
		}
		if !again[p].ModTime.Equal(a.ModTime) {
			t.Errorf("%s: re-rendering the same keys changed the mtime (verifiers would lose their 304s)", p)
		}
	}
}

func TestWriteContext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctx")
	keys := edKeys(t, 1)
	withIssuer := &config.SetConfig{Name: "prod", Issuer: "https://auth.example.com"}
	files, err := RenderContext(ContextOptions{Set: withIssuer, Keys: keys, Params: templates.Defaults(), State: []byte("{}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteContext(context.Background(), dir, files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(f.ModTime) {
			t.Errorf("%s: mtime %v on disk, want %v", f.Path, fi.ModTime(), f.ModTime)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f.Path, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "html", ".well-known")); fi == nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("html/.well-known is not 0755")
	}

	// Rendering again without an issuer and without state removes what no longer belongs.
	files, err = RenderContext(ContextOptions{Set: &config.SetConfig{Name: "prod"}, Keys: keys, Params: templates.Defaults()})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteContext(context.Background(), dir, files); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ContextDiscovery, ContextDiscovery + ".gz", ContextState} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s left from the earlier render (%v)", p, err)
		}
	}

	if err := WriteContext(context.Background(), dir, []ContextFile{{Path: "../escape", Data: []byte("x")}}); err == nil {
		t.Error("a path outside the context was written")
	}
}
