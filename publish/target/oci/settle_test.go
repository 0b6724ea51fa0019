package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/publish/target"
)

// TestSettledFindsOverwrite: a rival that read the tag when we did and puts its image after
// our read-back, within the settle window, is found by following the tag's parents back, and
// our Write loses with ErrConflict; images built on ours (a publisher that planned on what we
// pushed) are not a conflict. rivals gets the revision our write was planned on and our
// image's digest, and returns the images put to the tag, in order, after our read-back.
func TestSettledFindsOverwrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		settle string
		rivals func(t *testing.T, b *rivalBuilder, rev, ours string) []string
		err    string // "" for success
		tag    int    // which image the tag must name at the end: -1 ours, else the rival's index
		heads  int64  // when not 0, how often the tag must be read after our put
	}{
		{name: "no rival", tag: -1,
			rivals: func(*testing.T, *rivalBuilder, string, string) []string { return nil }},
		{name: "rival planned on our parent", tag: 0, err: "which was built on what we read, not on our image",
			rivals: func(t *testing.T, b *rivalBuilder, rev, _ string) []string { return []string{b.put(t, rev)} }},
		{name: "child of ours", tag: 0,
			rivals: func(t *testing.T, b *rivalBuilder, _, ours string) []string { return []string{b.put(t, ours)} }},
		{name: "grandchild of ours", tag: 1,
			rivals: func(t *testing.T, b *rivalBuilder, _, ours string) []string {
				child := b.put(t, ours)
				return []string{child, b.put(t, child)}
			}},
		{name: "child of a rival", tag: 1, err: "which was built on what we read, not on our image",
			rivals: func(t *testing.T, b *rivalBuilder, rev, _ string) []string {
				rival := b.put(t, rev)
				return []string{rival, b.put(t, rival)}
			}},
		{name: "image with no parent", tag: 0, err: "which is not built on it",
			rivals: func(t *testing.T, b *rivalBuilder, _, _ string) []string { return []string{b.put(t, "")} }},
		// settle=0 reads the tag once after the put, the read-back, and never again: a rival
		// that puts after it is not seen.
		{name: "settle=0 does not look again", settle: "0", tag: -1, heads: 1,
			rivals: func(t *testing.T, _ *rivalBuilder, _, _ string) []string {
				t.Error("the tag was read again after the read-back")
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			base := reg.pushBase(t, "base:1", "base 1")
			tg := reg.target(t, "keys:prod", base, Options{})
			if tc.settle != "" {
				loc, err := ParseURL("oci://" + reg.host + "/keys:prod?base=" + base + "&settle=" + tc.settle)
				if err != nil {
					t.Fatal(err)
				}
				if tg, err = New(loc, Options{SetName: "prod"}); err != nil {
					t.Fatal(err)
				}
			}
			write(t, tg, nil, objects(jwksOne, "", `{"n":1}`))
			first := read(t, tg)
			b := &rivalBuilder{reg: reg, tg: tg}

			// Ours is the first manifest put to the tag from here on; the rivals land just
			// before the tag is read for the second time after it (the first is the read-back).
			var ours string
			var heads atomic.Int64
			var rivals []string
			reg.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/manifests/prod") {
					return false
				}
				switch {
				case r.Method == http.MethodPut && ours == "":
					body, _ := io.ReadAll(r.Body)
					sum := sha256.Sum256(body)
					ours = "sha256:" + hex.EncodeToString(sum[:])
					r.Body = io.NopCloser(bytes.NewReader(body))
				case r.Method == http.MethodHead && ours != "" && heads.Add(1) == 2:
					rivals = tc.rivals(t, b, first.Revision, ours)
				}
				return false
			})
			err := tg.Write(context.Background(), first, objects(jwksTwo, "", `{"n":2}`))
			reg.setIntercept(func(http.ResponseWriter, *http.Request) bool { return false })
			if tc.err == "" && err != nil {
				t.Fatalf("error %v, want none", err)
			}
			if tc.err != "" && (!errors.Is(err, target.ErrConflict) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), ours)) {
				t.Fatalf("error %v, want ErrConflict naming our image %s and saying %q", err, ours, tc.err)
			}
			if n := heads.Load(); tc.heads != 0 && n != tc.heads {
				t.Errorf("the tag was read %d times after our put, want %d", n, tc.heads)
			}
			want := ours
			if tc.tag >= 0 {
				want = rivals[tc.tag]
			}
			if d := reg.tagDigest(t, "keys:prod"); d != want {
				t.Fatalf("the tag names %s, want %s", d, want)
			}
		})
	}
}

// rivalBuilder puts images to keys:prod as another publisher would, each with its own JWKS.
type rivalBuilder struct {
	reg *testRegistry
	tg  *Target
	n   int
}

// put pushes a rival image planned on parent to the tag and returns its digest.
func (b *rivalBuilder) put(t *testing.T, parent string) string {
	t.Helper()
	b.n++
	baseImg, _, err := b.tg.base(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	img, err := b.tg.build(baseImg, byName(objects(jwksTwo, "", `{"rival":`+string(rune('0'+b.n))+`}`)), parent)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(b.reg.host + "/keys:prod")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestParentLabel: an image names the image its write was planned on, a first publication
// names none; the label is an input like any other, so the rebuilt live image is not
// Outdated, and writing the same objects again pushes nothing.
func TestParentLabel(t *testing.T) {
	reg := newRegistry(t)
	base := reg.pushBase(t, "base:1", "base 1")
	tg := reg.target(t, "keys:prod", base, Options{})
	write(t, tg, nil, objects(jwksOne, "", `{"n":1}`))
	first := read(t, tg)
	if p := parentOf(t, reg, first.Revision); p != "" {
		t.Fatalf("a first publication names parent %q", p)
	}
	objs := objects(jwksTwo, "", `{"n":2}`)
	write(t, tg, first, objs)
	second := read(t, tg)
	if p := parentOf(t, reg, second.Revision); p != first.Revision {
		t.Fatalf("the second image names parent %q, want %s", p, first.Revision)
	}
	if second.Outdated != "" {
		t.Fatalf("the image just written reads as outdated: %s", second.Outdated)
	}
	before := reg.writes.Load()
	write(t, tg, second, objs)
	if n := reg.writes.Load() - before; n != 0 || reg.tagDigest(t, "keys:prod") != second.Revision {
		t.Fatalf("an unchanged write sent %d write requests; the tag names %s, was %s", n, reg.tagDigest(t, "keys:prod"), second.Revision)
	}
	// Unchanged objects from a stale snapshot still lose.
	if err := tg.Write(context.Background(), first, objects(jwksOne, "", `{"n":1}`)); !errors.Is(err, target.ErrConflict) {
		t.Fatalf("an unchanged write from a stale snapshot: %v, want ErrConflict", err)
	}
}

// parentOf reads the LabelParent of the image d at keys:prod.
func parentOf(t *testing.T, reg *testRegistry, d string) string {
	t.Helper()
	ref, err := name.NewDigest(reg.host + "/keys@" + d)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	var cf *v1.ConfigFile
	if cf, err = img.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	return cf.Config.Labels[LabelParent]
}
