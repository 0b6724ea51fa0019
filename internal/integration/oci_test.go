//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/internal/ocitest"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/templates"
)

// ociRegistry is the loopback registry (Debian's docker-registry) that .ci/services.sh starts.
func ociRegistry(t *testing.T) string {
	t.Helper()
	reg := os.Getenv("JWKSPUB_IT_REGISTRY")
	if reg == "" {
		t.Fatal("JWKSPUB_IT_REGISTRY is not set: run the suite with make integration (.ci/services.sh start runs the registry)")
	}
	return reg
}

var repoSeq atomic.Int64

// ociRepo is a repository of its own for one test, so runs and tests never see each other's
// tags.
func ociRepo(t *testing.T, reg string) string {
	t.Helper()
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	return fmt.Sprintf("%s/jwkspub-it/%s-%s-%d", reg, n, time.Now().UTC().Format("20060102t150405"), repoSeq.Add(1))
}

// pushBase pushes a small base image made here (nothing can be pulled from outside) and
// returns its reference.
func pushBase(t *testing.T, reg, marker string) string {
	t.Helper()
	img, err := ocitest.Base(marker, false)
	if err != nil {
		t.Fatal(err)
	}
	ref := ociRepo(t, reg) + "-base:1"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing the base image to %s: %v", ref, err)
	}
	return ref
}

// tagDigest is the digest a tag names now, or "" when there is none.
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NAME_UNKNOWN") || strings.Contains(err.Error(), "404") {
			return ""
		}
		t.Fatal(err)
	}
	return desc.Digest.String()
}

func ociKeys(t *testing.T, seeds ...byte) *publish.Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, Origin: sources.Origin{Source: fmt.Sprintf("test:%d", s)}})
	}
	set, err := publish.Assemble(keys, publish.AssembleOptions{KID: publish.KIDThumbprint})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// faultProxy is a reverse proxy in front of the real registry that answers some requests
// itself, to inject the failures a registry can give.
type faultProxy struct {
	*httptest.Server
	fail  atomic.Pointer[func(*http.Request) int] // status to answer with, 0 to pass on
	count atomic.Int64                            // requests answered with a fault
}

func newFaultProxy(t *testing.T, reg string) *faultProxy {
	t.Helper()
	up, err := url.Parse("http://" + reg)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(up)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.fail.Load(); f != nil {
			if code := (*f)(r); code != 0 {
				p.count.Add(1)
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Basic realm="jwkspub-it"`)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"errors":[{"code":"%s","message":"injected by the test"}]}`, map[int]string{401: "UNAUTHORIZED", 500: "UNKNOWN"}[code])
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// host is the proxy's registry name (127.0.0.1:PORT: spoken to over plain HTTP).
func (p *faultProxy) host() string { return strings.TrimPrefix(p.URL, "http://") }

func (p *faultProxy) failWith(f func(*http.Request) int) { p.fail.Store(&f) }

// buildOCI renders a set and builds its image on base, as publish does.
func buildOCI(t *testing.T, baseRef string, set *publish.SetConfig, keys *publish.Set) (v1.Image, []publish.ContextFile) {
	t.Helper()
	files, err := publish.RenderContext(publish.ContextOptions{Set: set, Keys: keys, Params: templates.Defaults(), State: []byte("{}\n")})
	if err != nil {
		t.Fatal(err)
	}
	bref, err := name.ParseReference(baseRef)
	if err != nil {
		t.Fatal(err)
	}
	base, err := remote.Image(bref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := publish.BuildImage(publish.ImageOptions{Base: base, BaseName: baseRef, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return img, files
}

// TestOCIPushAndReadBack pushes a built image to the real registry, reads it back as publish
// reads a live tag, and finds the rendered files byte for byte.
func TestOCIPushAndReadBack(t *testing.T) {
	reg := ociRegistry(t)
	ctx := context.Background()
	baseRef := pushBase(t, reg, "readback")
	loc, err := publish.ParseImageTarget("oci://" + ociRepo(t, reg) + ":prod?base=" + baseRef)
	if err != nil {
		t.Fatal(err)
	}
	if live, err := publish.ReadLiveImage(ctx, loc); err != nil || live != nil {
		t.Fatalf("an absent tag reads as %v, %v; want nothing, no error", live, err)
	}
	img, files := buildOCI(t, baseRef, &publish.SetConfig{Name: "prod", Issuer: "https://auth.example.com"}, ociKeys(t, 1, 2))
	d, err := publish.PushImage(ctx, loc, img)
	if err != nil {
		t.Fatal(err)
	}
	if got := tagDigest(t, loc.Tag.Name()); got != d.String() {
		t.Fatalf("the tag names %s, pushed %s", got, d)
	}
	live, err := publish.ReadLiveImage(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if live.Digest != d {
		t.Fatalf("live digest %s, pushed %s", live.Digest, d)
	}
	n := 0
	for _, f := range files {
		if f.Path == templates.Dockerfile {
			continue
		}
		n++
		if got, ok := live.Files["srv/jwkspub/"+f.Path]; !ok || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: read back %d bytes, rendered %d (present %v)", f.Path, len(got), len(f.Data), ok)
		}
	}
	if len(live.Files) != n {
		t.Errorf("the layer has %d files, rendered %d (without the Dockerfile)", len(live.Files), n)
	}
}

// TestOCIPushRefused injects the registry's refusals in front of the real registry: each push
// fails with a message naming the target and the cause, and the tag keeps the image it had.
func TestOCIPushRefused(t *testing.T) {
	reg := ociRegistry(t)
	ctx := context.Background()
	baseRef := pushBase(t, reg, "refused")
	proxy := newFaultProxy(t, reg)
	repo := strings.TrimPrefix(ociRepo(t, reg), reg)
	direct := reg + repo + ":prod"
	loc, err := publish.ParseImageTarget("oci://" + proxy.host() + repo + ":prod?base=" + baseRef)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := buildOCI(t, baseRef, &publish.SetConfig{Name: "prod"}, ociKeys(t, 1))
	d1, err := publish.PushImage(ctx, loc, first)
	if err != nil {
		t.Fatal(err)
	}
	fast := remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2})
	for i, tc := range []struct {
		name string
		fail func(*http.Request) int
		want []string
	}{
		{"manifest 500", func(r *http.Request) int {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				return http.StatusInternalServerError
			}
			return 0
		}, []string{"HTTP 500, the registry failed", "the tag was left as it was"}},
		{"blob upload 500", func(r *http.Request) int {
			if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				return http.StatusInternalServerError
			}
			return 0
		}, []string{"HTTP 500, the registry failed"}},
		{"auth", func(r *http.Request) int {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				return http.StatusUnauthorized
			}
			return 0
		}, []string{"HTTP 401, not authenticated (fix: docker login " + proxy.host()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A rotation of its own, so its blobs are new to the registry and are pushed.
			rotated, _ := buildOCI(t, baseRef, &publish.SetConfig{Name: "prod"}, ociKeys(t, 1, byte(10+i)))
			proxy.failWith(tc.fail)
			defer proxy.failWith(func(*http.Request) int { return 0 })
			before := proxy.count.Load()
			_, err := publish.PushImage(ctx, loc, rotated, fast)
			if err == nil {
				t.Fatal("the push succeeded through a failing registry")
			}
			if proxy.count.Load() == before {
				t.Fatal("the fault was never injected")
			}
			msg := err.Error()
			t.Logf("refused: %v", err)
			for _, w := range append(tc.want, "target oci://"+proxy.host()) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if got := tagDigest(t, direct); got != d1.String() {
				t.Fatalf("after a refused push the tag names %s, want the earlier %s", got, d1)
			}
		})
	}
}
