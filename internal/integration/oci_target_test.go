//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/oci"
)

// warnCounter is a slog handler that counts warnings and keeps their messages: the target
// logs one for each step it retries after the registry's race.
type warnCounter struct {
	n    atomic.Int64
	mu   sync.Mutex
	msgs []string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	w.n.Add(1)
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "step" || a.Key == "err" {
			msg += " " + a.String()
		}
		return true
	})
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
	return nil
}

// ociObjects are the objects of a publication of keys at an image target, encoded as the
// publisher encodes them.
func ociObjects(t *testing.T, keys *jwks.Set) []target.Object {
	t.Helper()
	doc, err := jwks.Encode(keys, false)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := served.EncodeDiscovery("https://auth.example.com", "https://auth.example.com/.well-known/jwks.json", keys)
	if err != nil {
		t.Fatal(err)
	}
	n := target.NamesFor(oci.JWKSName, true)
	const cc, ct = "public, max-age=300", "application/json"
	return []target.Object{
		{Name: n.JWKS, Body: doc, CacheControl: cc, ContentType: ct},
		{Name: n.Gzip, Body: gzipOf(t, doc), CacheControl: cc, ContentType: ct, ContentEncoding: "gzip"},
		{Name: n.Discovery, Body: disc, CacheControl: cc, ContentType: "application/json"},
		{Name: n.State, Body: []byte("{}\n"), CacheControl: "no-cache", ContentType: "application/json"},
	}
}

// TestOCITargetTwoTagsOneRepository publishes two sets to two tags of one repository at once,
// as one run of the command does, against the real registry, 40 times, each time into a new
// repository so every blob is new to it. Both pushes carry the same document layer and mount
// the same base layer; distribution v2.8 rewrites a blob's link in place, and the push that
// verifies its manifest meanwhile was refused with DIGEST_INVALID / MANIFEST_BLOB_UNKNOWN
// (the old push path: 3 of 40 and 2 of 100 runs). With the targets sharing a RepoLocks, as
// the command's do, the pushes take turns and no step needs a retry; with a RepoLocks each, as
// two processes would be, the one retry on those codes carries every push through.
func TestOCITargetTwoTagsOneRepository(t *testing.T) {
	reg := ociRegistry(t)
	baseRef := pushBase(t, reg, "two-tags")
	objs := ociObjects(t, edSet(t, 1, 2))
	const runs = 40
	for _, tc := range []struct {
		name       string
		shared     bool
		maxRetries int64
	}{
		{"shared locks", true, 0},
		{"a lock each", false, runs * 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings warnCounter
			logger := slog.New(&warnings)
			shared := &oci.RepoLocks{}
			for i := range runs {
				repo := ociRepo(t, reg)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				tgs := make([]*oci.Target, 2)
				for j, set := range []string{"a", "b"} {
					loc, err := oci.ParseURL("oci://" + repo + ":" + set + "?base=" + baseRef)
					if err != nil {
						t.Fatal(err)
					}
					locks := shared
					if !tc.shared {
						locks = &oci.RepoLocks{}
					}
					tgs[j], err = oci.New(loc, oci.Options{SetName: set, Locks: locks, Logger: logger})
					if err != nil {
						t.Fatal(err)
					}
					wg.Go(func() { errs[j] = tgs[j].Write(context.Background(), nil, objs) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("run %d of %d: %v", i+1, runs, err)
				}
				// Each tag serves what was written, and names what Read reports.
				for j, tg := range tgs {
					s, err := tg.Read(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if d := tagDigest(t, tg.Location().Tag.Name()); s.Revision != d || s.Outdated != "" {
						t.Fatalf("run %d, tag %d: revision %s, the tag names %s, outdated %q", i+1, j, s.Revision, d, s.Outdated)
					}
					for k := range objs {
						if o := &objs[k]; !o.Same(s.Object(o.Name), true) {
							t.Fatalf("run %d, tag %d: %s read back differs", i+1, j, o.Name)
						}
					}
				}
			}
			t.Logf("%d runs of two concurrent pushes, %d steps retried after the registry's race", runs, warnings.n.Load())
			for _, m := range warnings.msgs {
				t.Log("retried: " + m)
			}
			if n := warnings.n.Load(); n > tc.maxRetries {
				t.Fatalf("%d retries, want at most %d", n, tc.maxRetries)
			}
		})
	}
}

// gzipOf is data gzipped (any valid gzip will do: the target checks what it decompresses to).
func gzipOf(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestOCITargetRefused injects the registry's refusals in front of the real registry: each
// Write fails with a message naming the target, the cause and the fix, and the tag keeps the
// image it had.
func TestOCITargetRefused(t *testing.T) {
	reg := ociRegistry(t)
	ctx := context.Background()
	baseRef := pushBase(t, reg, "target-refused")
	proxy := newFaultProxy(t, reg)
	repo := strings.TrimPrefix(ociRepo(t, reg), reg)
	direct := reg + repo + ":prod"
	loc, err := oci.ParseURL("oci://" + proxy.host() + repo + ":prod?base=" + baseRef)
	if err != nil {
		t.Fatal(err)
	}
	fast := remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2})
	tg, err := oci.New(loc, oci.Options{SetName: "prod", Remote: []remote.Option{fast}})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, nil, ociObjects(t, edSet(t, 1))); err != nil {
		t.Fatal(err)
	}
	d1 := tagDigest(t, direct)
	snap, err := tg.Read(ctx)
	if err != nil || snap.Revision != d1 {
		t.Fatalf("read %v, %v; the tag names %s", snap, err, d1)
	}
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
		}, []string{"pushing the image's blobs", "HTTP 500, the registry failed", "the tag was left as it was"}},
		{"auth", func(r *http.Request) int {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				return http.StatusUnauthorized
			}
			return 0
		}, []string{"HTTP 401, not authenticated (fix: docker login " + proxy.host()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A rotation of its own, so its blobs are new to the registry and are pushed.
			objs := ociObjects(t, edSet(t, 1, byte(10+i)))
			proxy.failWith(tc.fail)
			defer proxy.failWith(func(*http.Request) int { return 0 })
			before := proxy.count.Load()
			err := tg.Write(ctx, snap, objs)
			if err == nil {
				t.Fatal("the write succeeded through a failing registry")
			}
			if proxy.count.Load() == before {
				t.Fatal("the fault was never injected")
			}
			t.Logf("refused: %v", err)
			if errors.Is(err, target.ErrConflict) {
				t.Errorf("a refusal reported as a conflict: %v", err)
			}
			for _, w := range append(tc.want, "target oci://"+proxy.host()) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := tagDigest(t, direct); got != d1 {
				t.Fatalf("after a refused write the tag names %s, want the earlier %s", got, d1)
			}
		})
	}
}
