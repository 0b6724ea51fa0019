package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/internal/ocitest"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// testRegistry is go-containerregistry's in-process registry behind a handler that counts
// write requests and can answer some requests itself, to inject what a registry can do.
type testRegistry struct {
	host         string
	upstream     http.Handler
	writes       atomic.Int64 // requests other than GET and HEAD
	manifestPuts atomic.Int64
	intercept    atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
}

func newRegistry(t *testing.T) *testRegistry {
	t.Helper()
	r := &testRegistry{upstream: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			r.writes.Add(1)
			if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
				r.manifestPuts.Add(1)
			}
		}
		if f := r.intercept.Load(); f != nil && (*f)(w, req) {
			return
		}
		r.upstream.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *testRegistry) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	r.intercept.Store(&f)
}

// pushBase pushes ocitest's base image with marker to repo and returns its reference.
func (r *testRegistry) pushBase(t *testing.T, ref, marker string) string {
	t.Helper()
	img, err := ocitest.Base(marker, false)
	if err != nil {
		t.Fatal(err)
	}
	full := r.host + "/" + ref
	tag, err := name.NewTag(full)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	return full
}

// target is the target at REGISTRY/ref (REPO:TAG) on base.
func (r *testRegistry) target(t *testing.T, ref, base string, o Options) *Target {
	t.Helper()
	// A settle window of 1ms: every write follows the tag back to its image, quickly.
	loc, err := ParseURL("oci://" + r.host + "/" + ref + "?base=" + base + "&settle=1ms")
	if err != nil {
		t.Fatal(err)
	}
	if o.SetName == "" {
		o.SetName = "prod"
	}
	tg, err := New(loc, o)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// tagDigest is what the tag names now, "" when absent, asked apart from the target.
func (r *testRegistry) tagDigest(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(r.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if isNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

func read(t *testing.T, tg *Target) *target.Snapshot {
	t.Helper()
	s, err := tg.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(t *testing.T, tg *Target, base *target.Snapshot, objs []target.Object) {
	t.Helper()
	if err := tg.Write(context.Background(), base, objs); err != nil {
		t.Fatal(err)
	}
}

// sameObjects fails unless the snapshot holds exactly objs, each Same as written.
func sameObjects(t *testing.T, s *target.Snapshot, objs []target.Object) {
	t.Helper()
	if len(s.Objects) != len(objs) {
		t.Errorf("read %d objects, wrote %d", len(s.Objects), len(objs))
	}
	for i := range objs {
		o := &objs[i]
		live := s.Object(o.Name)
		if !o.Same(live, s.Attributes) {
			t.Errorf("%s read back as %+v, wrote %+v", o.Name, live, o)
		}
	}
}

func TestReadAbsent(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	// No repository at all, then a repository without this tag.
	for _, step := range []string{"no repository", "no tag"} {
		s := read(t, tg)
		if s.Revision != "" || s.Digest != "" || len(s.Objects) != 0 || s.Outdated != "" || !s.Attributes || s.Names != tg.Names() {
			t.Fatalf("%s: absent tag reads as %+v", step, s)
		}
		if step == "no repository" {
			write(t, reg.target(t, "keys:other", base, Options{}), nil, objects(jwksOne, "", "{}"))
		}
	}
}

func TestWriteReadBack(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	var points []string
	tg := reg.target(t, "keys:prod", base, Options{OnWrite: func(p string) { points = append(points, p) }})
	objs := objects(jwksOne, discOne, `{"version":1}`)
	write(t, tg, read(t, tg), objs)
	if !slices.Equal(points, []string{"blobs", "manifest"}) {
		t.Errorf("OnWrite saw %q, want blobs then manifest", points)
	}
	s := read(t, tg)
	sameObjects(t, s, objs)
	if d := reg.tagDigest(t, "keys:prod"); s.Revision != d || s.Digest != d || s.Outdated != "" {
		t.Fatalf("revision %q digest %q outdated %q; the tag names %s", s.Revision, s.Digest, s.Outdated, d)
	}
	// The headers are the ones the image serves, and Same compares the body hash.
	n := tg.Names()
	for name, want := range map[string][3]string{
		n.JWKS:      {testCC, testCT, ""},
		n.Gzip:      {testCC, testCT, "gzip"},
		n.Discovery: {testCC, "application/json", ""},
		n.State:     {"no-cache", "application/json", ""},
	} {
		o := s.Object(name)
		if got := [3]string{o.CacheControl, o.ContentType, o.ContentEncoding}; got != want || o.Metadata[target.MetaSHA256] != o.SHA256() {
			t.Errorf("%s: headers %q sha256 %q, want %q and the body's", name, got, o.Metadata[target.MetaSHA256], want)
		}
	}
	// The image serves what the objects say: nginx.conf for these headers and the discovery
	// document, and the discovery .gz made from the document.
	tag, _ := name.NewTag(reg.host + "/keys:prod")
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	_, data := topLayer(t, img)
	conf := string(data["srv/jwkspub/nginx.conf"])
	if !strings.Contains(conf, `add_header Cache-Control "`+testCC+`"`) || !strings.Contains(conf, "location = /.well-known/openid-configuration") {
		t.Errorf("nginx.conf in the image does not serve these headers and the discovery document:\n%s", conf)
	}
	if !bytes.Equal(data["srv/jwkspub/html/.well-known/openid-configuration.gz"], templates.Gzip([]byte(discOne))) {
		t.Error("the image's openid-configuration.gz is not the discovery document's")
	}

	// Removing the discovery document: the image stops serving it.
	write(t, tg, s, []target.Object{{Name: n.Discovery, Delete: true}})
	s = read(t, tg)
	if s.Object(n.Discovery) != nil || s.Object(n.JWKS) == nil || s.Object(n.State) == nil || s.Outdated != "" {
		t.Fatalf("after deleting the discovery document: %v objects, outdated %q", slices.Sorted(func(yield func(string) bool) {
			for k := range s.Objects {
				yield(k)
			}
		}), s.Outdated)
	}
}

// TestWriteUnchanged: the same objects give the same digest, and writing them again pushes
// nothing; a different state object gives another digest.
func TestWriteUnchanged(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	objs := objects(jwksOne, discOne, `{"first_published":"2026-12-01T10:00:00Z"}`)
	write(t, tg, nil, objs)
	d1 := reg.tagDigest(t, "keys:prod")
	s := read(t, tg)
	before := reg.writes.Load()
	write(t, tg, s, objs)
	if n := reg.writes.Load() - before; n != 0 || reg.tagDigest(t, "keys:prod") != d1 {
		t.Fatalf("an unchanged write sent %d write requests; tag %s, was %s", n, reg.tagDigest(t, "keys:prod"), d1)
	}
	// Another target of the same set, built later from the same objects: the same digest.
	time.Sleep(1100 * time.Millisecond)
	write(t, reg.target(t, "mirror:prod", base, Options{}), nil, objs)
	if d := reg.tagDigest(t, "mirror:prod"); d != d1 {
		t.Fatalf("same objects, base and settings built %s and %s", d1, d)
	}
	// A first publication a second later has another state object, so another image.
	write(t, reg.target(t, "later:prod", base, Options{}), nil, objects(jwksOne, discOne, `{"first_published":"2026-12-01T10:00:01Z"}`))
	if d := reg.tagDigest(t, "later:prod"); d == d1 {
		t.Fatalf("another state object built the same digest %s", d)
	}
}

// TestWriteStaleBase: a Write from a snapshot the tag has moved on from is refused with
// ErrConflict and moves nothing.
func TestWriteStaleBase(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	empty := read(t, tg)
	write(t, tg, empty, objects(jwksOne, "", `{"n":1}`))
	first := read(t, tg)
	write(t, tg, first, objects(jwksTwo, "", `{"n":2}`))
	second := reg.tagDigest(t, "keys:prod")
	for name, stale := range map[string]*target.Snapshot{"empty": empty, "nil": nil, "first": first} {
		before := reg.manifestPuts.Load()
		err := tg.Write(context.Background(), stale, objects(jwksOne, discOne, `{"n":3}`))
		if !errors.Is(err, target.ErrConflict) {
			t.Fatalf("%s base: error %v, want ErrConflict", name, err)
		}
		if !strings.Contains(err.Error(), "target oci://"+reg.host+"/keys:prod") || !strings.Contains(err.Error(), "names "+second) {
			t.Errorf("%s base: the error names neither the target nor what the tag names: %v", name, err)
		}
		if n := reg.manifestPuts.Load() - before; n != 0 || reg.tagDigest(t, "keys:prod") != second {
			t.Fatalf("%s base: %d manifest puts; the tag names %s, want %s", name, n, reg.tagDigest(t, "keys:prod"), second)
		}
	}
}

// TestWriteTwoFromEmpty: two publishers that both read the absent tag: one wins, the other
// gets ErrConflict, and the tag holds the winner's documents.
func TestWriteTwoFromEmpty(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	locks := &RepoLocks{}
	docs := []string{jwksOne, jwksTwo}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range docs {
		tg := reg.target(t, "keys:prod", base, Options{Locks: locks})
		empty := read(t, tg)
		wg.Go(func() { errs[i] = tg.Write(context.Background(), empty, objects(docs[i], "", "{}")) })
	}
	wg.Wait()
	won := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	lost := 1 - won
	if won < 0 || !errors.Is(errs[lost], target.ErrConflict) {
		t.Fatalf("errors %v; want one nil and one ErrConflict", errs)
	}
	s := read(t, reg.target(t, "keys:prod", base, Options{}))
	if got := string(s.Object(JWKSName).Body); got != docs[won] {
		t.Fatalf("the tag serves %q; the winner wrote %q", got, docs[won])
	}
}

// TestNoLostUpdate: publishers racing read-modify-write until they succeed, each adding itself
// to the state object: every one of them is in the final state.
func TestNoLostUpdate(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	locks := &RepoLocks{} // as the CLI shares one among its targets
	const n = 8
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		tg := reg.target(t, "keys:prod", base, Options{Locks: locks})
		wg.Go(func() {
			for attempt := 0; attempt < 10*n; attempt++ {
				s, err := tg.Read(context.Background())
				if err != nil {
					errs <- err
					return
				}
				var writers []int
				if st := s.Object(tg.Names().State); st != nil {
					if err := json.Unmarshal(st.Body, &writers); err != nil {
						errs <- err
						return
					}
				}
				body, _ := json.Marshal(append(writers, i))
				err = tg.Write(context.Background(), s, objects(jwksOne, "", string(body)))
				if errors.Is(err, target.ErrConflict) {
					conflicts.Add(1)
					continue
				}
				errs <- err
				return
			}
			errs <- fmt.Errorf("writer %d never won", i)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var writers []int
	s := read(t, reg.target(t, "keys:prod", base, Options{}))
	if err := json.Unmarshal(s.Object(JWKSName+target.StateSuffix).Body, &writers); err != nil {
		t.Fatal(err)
	}
	slices.Sort(writers)
	if len(writers) != n || writers[0] != 0 || writers[n-1] != n-1 || slices.Compact(slices.Clone(writers))[n-1] != n-1 {
		t.Fatalf("the state holds writers %v, want each of 0..%d once", writers, n-1)
	}
	t.Logf("%d writers, %d conflicts retried", n, conflicts.Load())
}

func TestReadOtherSet(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	write(t, reg.target(t, "keys:prod", base, Options{SetName: "prod"}), nil, objects(jwksOne, "", "{}"))
	_, err := reg.target(t, "keys:prod", base, Options{SetName: "staging"}).Read(context.Background())
	if err == nil {
		t.Fatal("a target of set staging read set prod's image")
	}
	for _, want := range []string{`serves set "prod", not "staging"`, "fix: give each set its own tag", "keys:prod"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestReadForeignImage(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	reg.pushBase(t, "keys:prod", "someone else's")
	_, err := reg.target(t, "keys:prod", base, Options{}).Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "so jwkspub did not build it (fix: publish to another tag") {
		t.Fatalf("error %v, want one saying jwkspub did not build the image", err)
	}
}

// TestOutdated: the image is rebuilt when only its base or its nginx settings moved.
func TestOutdated(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	objs := objects(jwksOne, discOne, "{}")
	write(t, tg, nil, objs)

	// Another Listen renders another nginx.conf and Dockerfile.
	p := templates.Defaults()
	p.Listen = "8081"
	if s := read(t, reg.target(t, "keys:prod", base, Options{Params: p})); !strings.Contains(s.Outdated, "nginx configuration") {
		t.Errorf("another listen port: outdated %q", s.Outdated)
	}
	// The same base image under another name: the labels differ.
	other := reg.pushBase(t, "base:other", "base 1")
	if s := read(t, reg.target(t, "keys:prod", other, Options{})); !strings.Contains(s.Outdated, "differs from the live one") {
		t.Errorf("another base name: outdated %q", s.Outdated)
	}

	// The base tag moves: the documents are as written, the image is outdated; writing the
	// snapshot's own objects rebuilds it on the new base.
	reg.pushBase(t, "base:1", "base 2")
	s := read(t, tg)
	sameObjects(t, s, objs)
	if !strings.Contains(s.Outdated, "the base image "+base+" is now sha256:") {
		t.Fatalf("after the base moved: outdated %q", s.Outdated)
	}
	was := s.Revision
	write(t, tg, s, nil)
	s = read(t, tg)
	sameObjects(t, s, objs)
	if s.Outdated != "" || s.Revision == was {
		t.Fatalf("after the rebuild: outdated %q, revision %s (was %s)", s.Outdated, s.Revision, was)
	}
}

// TestWriteRefused: what an image cannot store fails before anything is pushed.
func TestWriteRefused(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	n := tg.Names()
	for _, tc := range []struct {
		name   string
		change func([]target.Object) []target.Object
		want   string
	}{
		{"unknown name", func(o []target.Object) []target.Object {
			return append(o, target.Object{Name: "html/other.json", Body: []byte("{}")})
		}, `object "html/other.json": an image holds only html/.well-known/jwks.json, `},
		{"discovery cache-control", func(o []target.Object) []target.Object {
			o[2].CacheControl = "no-store"
			return o
		}, `object html/.well-known/openid-configuration has Cache-Control "no-store"`},
		{"state content type", func(o []target.Object) []target.Object {
			o[3].ContentType = "text/plain"
			return o
		}, "fix: give it those headers"},
		{"gzip of another document", func(o []target.Object) []target.Object {
			o[1].Body = templates.Gzip([]byte(jwksTwo))
			return o
		}, "object html/.well-known/jwks.json.gz is not the gzip of html/.well-known/jwks.json"},
		{"gzip not gzip", func(o []target.Object) []target.Object {
			o[1].Body = []byte(jwksOne)
			return o
		}, "is not the gzip of"},
		{"bad cache-control", func(o []target.Object) []target.Object {
			for i := range o[:3] {
				o[i].CacheControl = `max-age=1"; evil`
			}
			return o
		}, `cache-control "max-age=1\"; evil"`},
		{"no jwks", func(o []target.Object) []target.Object {
			return []target.Object{{Name: n.JWKS, Delete: true}, o[3]}
		}, "an image always serves the JWKS (fix: write it; to stop serving the set, delete the tag)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reg.writes.Load()
			err := tg.Write(context.Background(), nil, tc.change(objects(jwksOne, discOne, "{}")))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "target oci://") {
				t.Fatalf("error %v, want one naming the target and containing %q", err, tc.want)
			}
			if w := reg.writes.Load() - before; w != 0 || reg.tagDigest(t, "keys:prod") != "" {
				t.Fatalf("a refused write sent %d write requests (tag %q)", w, reg.tagDigest(t, "keys:prod"))
			}
		})
	}
}

// TestWriteConflictAfterBlobs: another publisher moves the tag while the blobs are pushed:
// the manifest is not put, and the other image stands.
func TestWriteConflictAfterBlobs(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	rival := reg.target(t, "keys:prod", base, Options{})
	var points []string
	tg := reg.target(t, "keys:prod", base, Options{OnWrite: func(p string) {
		points = append(points, p)
		if p == "blobs" {
			write(t, rival, nil, objects(jwksTwo, "", "{}"))
		}
	}})
	err := tg.Write(context.Background(), read(t, tg), objects(jwksOne, "", "{}"))
	if !errors.Is(err, target.ErrConflict) || !strings.Contains(err.Error(), "names sha256:") || !strings.Contains(err.Error(), "not nothing as when it was read") {
		t.Fatalf("error %v, want ErrConflict naming the digest found and the absent tag read", err)
	}
	if !slices.Equal(points, []string{"blobs"}) {
		t.Errorf("OnWrite saw %q: the manifest was pushed", points)
	}
	if got := string(read(t, rival).Object(JWKSName).Body); got != jwksTwo {
		t.Fatalf("the tag serves %q, want the rival's document", got)
	}
}

// TestWriteConflictAtReadBack: a publisher that puts its manifest right after ours (between
// our put and our read-back) wins, and our Write says so with ErrConflict.
func TestWriteConflictAtReadBack(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	// The rival image, pushed under another tag so its blobs and manifest exist.
	write(t, reg.target(t, "keys:rival", base, Options{}), nil, objects(jwksTwo, "", "{}"))
	rivalRef, _ := name.NewTag(reg.host + "/keys:rival")
	rival, err := remote.Get(rivalRef)
	if err != nil {
		t.Fatal(err)
	}
	reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/manifests/prod") {
			return false
		}
		reg.upstream.ServeHTTP(w, r) // ours lands...
		put := httptest.NewRequest(http.MethodPut, r.URL.Path, bytes.NewReader(rival.Manifest))
		put.Header.Set("Content-Type", string(rival.MediaType))
		rec := httptest.NewRecorder()
		reg.upstream.ServeHTTP(rec, put) // ...and the rival's right after
		if rec.Code != http.StatusCreated {
			t.Errorf("the rival's put: %d %s", rec.Code, rec.Body)
		}
		return true
	})
	tg := reg.target(t, "keys:prod", base, Options{})
	err = tg.Write(context.Background(), nil, objects(jwksOne, "", "{}"))
	if !errors.Is(err, target.ErrConflict) || !strings.Contains(err.Error(), "names "+rival.Digest.String()+" right after") {
		t.Fatalf("error %v, want ErrConflict naming the rival's digest", err)
	}
	if d := reg.tagDigest(t, "keys:prod"); d != rival.Digest.String() {
		t.Fatalf("the tag names %s, want the rival's %s", d, rival.Digest)
	}
}

// TestWriteRetriesRegistryRace: a manifest refused as distribution refuses it while another
// client links the same blob is retried once after the blobs are pushed again; refused twice,
// the error names the registry's answer and the tag stays.
func TestWriteRetriesRegistryRace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refuse  int64 // manifest puts refused
		wantErr bool
	}{
		{"once", 1, false},
		{"twice", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			base := reg.pushBase(t, "base:1", "base 1")
			var refused atomic.Int64
			reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/manifests/prod") || refused.Load() >= tc.refuse {
					return false
				}
				refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return true
			})
			tg := reg.target(t, "keys:prod", base, Options{})
			before := reg.manifestPuts.Load()
			err := tg.Write(context.Background(), nil, objects(jwksOne, "", "{}"))
			if got := reg.manifestPuts.Load() - before; got != 2 {
				t.Errorf("%d manifest puts, want 2 (one retry)", got)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				sameObjects(t, read(t, tg), objects(jwksOne, "", "{}"))
				return
			}
			if err == nil || !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") || !strings.Contains(err.Error(), "the tag was left as it was") {
				t.Fatalf("error %v, want the registry's codes and the tag left", err)
			}
			if d := reg.tagDigest(t, "keys:prod"); d != "" {
				t.Fatalf("the tag names %s after a refused push", d)
			}
		})
	}
}

func TestRepoLocks(t *testing.T) {
	var l RepoLocks
	unlock, err := l.lock(context.Background(), "r/a")
	if err != nil {
		t.Fatal(err)
	}
	// Another repository is not held up.
	other, err := l.lock(context.Background(), "r/b")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// The same one waits, until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "r/a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a held repository gave %v, want the context's deadline", err)
	}
	unlock()
	again, err := l.lock(context.Background(), "r/a")
	if err != nil {
		t.Fatal(err)
	}
	again()
}

// TestNewRefusesSettings: settings the templates refuse, and a target without a set, fail at
// New.
func TestNewRefusesSettings(t *testing.T) {
	loc, err := ParseURL("oci://127.0.0.1:5000/keys:prod")
	if err != nil {
		t.Fatal(err)
	}
	p := templates.Defaults()
	p.Listen = "eighty"
	if _, err := New(loc, Options{SetName: "prod", Params: p}); err == nil || !strings.Contains(err.Error(), `listen "eighty"`) {
		t.Errorf("error %v, want the listen address refused", err)
	}
	if _, err := New(loc, Options{}); err == nil || !strings.Contains(err.Error(), "fix: set Options.SetName") {
		t.Errorf("error %v, want the missing set name refused", err)
	}
}
