package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/golden"
	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target/file"
)

// ThreeKeyNow is when the three-key rotation is looked at: k1 superseded and removable, k2
// live and safe to sign with, k3 published half an hour ago and not yet safe.
var ThreeKeyNow = t0.Add(20*time.Hour + 30*time.Minute)

// threeKeyRotation publishes k1 at t0, k2 at t0+2h and k3 at t0+20h under a one-hour
// Cache-Control and a 12h max_token_lifetime, and reads the timeline at ThreeKeyNow.
func threeKeyRotation(t *testing.T) (*rotation.Timeline, []publish.LiveHeader) {
	t.Helper()
	cfg := &config.SetConfig{Name: "prod", Output: config.Output{CacheControl: "public, max-age=3600"},
		Rotation: rotation.Rules{MaxTokenLifetime: rotation.Duration(12 * time.Hour)}}
	wk := filepath.Join(t.TempDir(), ".well-known")
	ft, err := file.New(wk, "jwks.json", file.Options{CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	d := publish.Destination{URL: "file://" + filepath.ToSlash(filepath.Join(wk, "jwks.json")), Target: ft}
	publishAt(t, d, cfg, testkeys.Rot(t, 1), t0)
	publishAt(t, d, cfg, testkeys.Rot(t, 1, 2), t0.Add(2*time.Hour))
	publishAt(t, d, cfg, testkeys.Rot(t, 1, 2, 3), t0.Add(20*time.Hour))
	tl, hs, err := publish.ReadTimelineHeaders(t.Context(), d, cfg, ThreeKeyNow)
	if err != nil {
		t.Fatal(err)
	}
	tl.Target = "file:///srv/www/.well-known/jwks.json"
	return tl, hs
}

// TestTimelinePictureGolden pins the picture and the page of the three-key rotation, and checks
// what they must say whatever the layout: the rows in the text output's order, the key to sign
// with, "now" between k3's publication and the moment it is safe.
func TestTimelinePictureGolden(t *testing.T) {
	tl, _ := threeKeyRotation(t)
	if got := []string{tl.Keys[0].KID, tl.Keys[1].KID, tl.Keys[2].KID}; strings.Join(got, ",") != "k1,k2,k3" || tl.SignWith != "k2" {
		t.Fatalf("scenario: keys %v, sign with %q; want k1,k2,k3 and k2", got, tl.SignWith)
	}
	if k3 := tl.Keys[2]; !(k3.FirstPublished.Before(tl.Now) && tl.Now.Before(k3.SafeFrom)) {
		t.Fatalf("scenario: now %s not between k3's publication %s and safe_from %s", tl.Now, k3.FirstPublished, k3.SafeFrom)
	}
	if k1 := tl.Keys[0]; k1.RemovableFrom == nil || !k1.RemovableFrom.Before(tl.Now) {
		t.Fatalf("scenario: k1 removable from %v, want before now %s", k1.RemovableFrom, tl.Now)
	}
	// The README shows this text beside the picture (docs/timeline.png).
	var text bytes.Buffer
	if err := WriteTimelineText(&text, []*rotation.Timeline{tl}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "timeline-three.txt", text.Bytes())
	var svg bytes.Buffer
	if err := WriteTimelineSVG(&svg, tl, "tl0"); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "timeline.svg", svg.Bytes())
	s := svg.String()
	i1, i2, i3 := strings.Index(s, `data-kid="k1"`), strings.Index(s, `data-kid="k2"`), strings.Index(s, `data-kid="k3"`)
	if !(i1 > 0 && i1 < i2 && i2 < i3) {
		t.Errorf("rows not drawn k1, k2, k3 in order (at %d, %d, %d)", i1, i2, i3)
	}
	if strings.Count(s, `class="row signwith"`) != 1 || !strings.Contains(s, `data-kid="k2">`+"\n"+`<text x="10" y="106.0" class="kid">k2 ◀ sign with`) {
		t.Errorf("k2 is not the one row marked to sign with:\n%s", s)
	}

	var page bytes.Buffer
	hs := []publish.LiveHeader{{Name: "Cache-Control", Value: "public, max-age=3600"}, {Name: "metadata note", Value: `<b>"x"</b>`}}
	if err := WriteTimelineHTML(&page, ThreeKeyNow, []TimelinePage{{Timeline: tl, Headers: hs}}, nil); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "status.html", page.Bytes())
	p := page.String()
	if !strings.Contains(p, s) {
		t.Error("the page does not hold the picture as WriteTimelineSVG draws it")
	}
	for _, bad := range []string{"<script", "http://", "https://", "<b>"} {
		if strings.Contains(strings.ReplaceAll(p, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("the page holds %q: it must be self-contained, script-free and escaped", bad)
		}
	}
}

// TestTimelineSVGEscapes: a kid or source is data, never markup.
func TestTimelineSVGEscapes(t *testing.T) {
	now := t0.Add(time.Hour)
	tl := &rotation.Timeline{Set: `a"<set>`, Target: "file:///x", SafeDelay: time.Minute, Now: now, SignWith: `k<1>&"`,
		Keys: []rotation.KeyTimeline{{KID: `k<1>&"`, Source: `file:<script>`, Live: true, FirstPublished: t0, SafeFrom: t0.Add(time.Minute)}}}
	var b bytes.Buffer
	if err := WriteTimelineHTML(&b, now, []TimelinePage{{Timeline: tl}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<script>", "k<1>", `"<set>`} {
		if strings.Contains(b.String(), raw) {
			t.Errorf("unescaped %q in:\n%s", raw, b.String())
		}
	}
}

// TestTimelineMermaidGolden pins the step summary's chart of the three-key rotation, and the
// before/after of a diff that would add k4: the same three tasks before, four after.
func TestTimelineMermaidGolden(t *testing.T) {
	tl, _ := threeKeyRotation(t)
	var b bytes.Buffer
	if err := WriteTimelineMermaid(&b, "rotation timeline", []*rotation.Timeline{tl}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "timeline.mmd", b.Bytes())
	for _, want := range []string{
		"    section prod → file#58;///srv/www/.well-known/jwks.json\n",
		"    k1 removable since 03-02 03#58;00:done, t0k0, 2026-03-01 12:00:00, 2026-03-02 22:00:00\n",
		"    k2 sign with:active, t0k1, 2026-03-01 14:00:00, 2026-03-02 22:00:00\n",
		"    k3 safe from 03-02 09#58;00:crit, t0k2, 2026-03-02 08:00:00, 2026-03-02 22:00:00\n",
		"    now 03-02 08#58;30:milestone, t0now, 2026-03-02 08:30:00, 0m\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("chart lacks %q:\n%s", want, b.String())
		}
	}
}

func TestMermaidEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"k1", "k1"},
		{"urn:key#1;x", "urn#58;key#35;1#59;x"},
		{"a`b<c>\nd", "a#96;b#60;c#62;#10;d"},
		{" lead", "#32;lead"},
		{"kid with space", "kid with space"},
	} {
		if got := mermaidEscape(c.in); got != c.want {
			t.Errorf("mermaidEscape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestReadmeShowsTimelineText: the README's status text beside the picture is what status
// prints for the same rotation.
func TestReadmeShowsTimelineText(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "timeline-three.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, append([]byte("```\n"), append(want, []byte("```\n")...)...)) {
		t.Errorf("README.md does not show testdata/golden/timeline-three.txt as a code block:\n%s", want)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "docs", "timeline.png")); err != nil || !bytes.Contains(readme, []byte("(docs/timeline.png)")) {
		t.Errorf("README.md's picture docs/timeline.png: %v", err)
	}
}

// TestTimelineSVGCases: what the picture must say in the states the three-key rotation does
// not reach.
func TestTimelineSVGCases(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	for _, c := range []struct {
		name string
		tl   *rotation.Timeline
		want []string
		not  []string
	}{
		{"retired, no max_token_lifetime", &rotation.Timeline{Set: "s", Target: "file:///x", SafeDelay: time.Hour, Now: now, SignWith: "b",
			Keys: []rotation.KeyTimeline{
				{KID: "a", Source: "file:a", FirstPublished: t0, SafeFrom: *at(time.Hour), Superseded: at(2 * time.Hour), Retired: at(30 * time.Hour)},
				{KID: "b", Source: "file:b", Live: true, FirstPublished: t0.Add(2 * time.Hour), SafeFrom: *at(3 * time.Hour)},
			}},
			[]string{`<path class="retired" d="M`, "max_token_lifetime unset (removal needs --allow-removal)", "file:a, retired", `data-segment="drain"`},
			[]string{`data-segment="removable"`}},
		{"live without state", &rotation.Timeline{Set: "s", Target: "file:///x", SafeDelay: time.Minute, Now: now,
			Keys: []rotation.KeyTimeline{{KID: "x", Source: "live (no state)", Live: true}}},
			[]string{"live, but no state: no dates to show", `data-rows="1"`},
			[]string{`data-segment=`, "sign with"}},
		{"nothing published", &rotation.Timeline{Set: "s", Target: "file:///x", SafeDelay: time.Minute, Now: now, Keys: []rotation.KeyTimeline{}},
			[]string{`data-rows="0"`, `class="now"`}, []string{`class="row`}},
	} {
		var b bytes.Buffer
		if err := WriteTimelineSVG(&b, c.tl, "t"); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in:\n%s", c.name, w, b.String())
			}
		}
		for _, n := range c.not {
			if strings.Contains(b.String(), n) {
				t.Errorf("%s: %q in:\n%s", c.name, n, b.String())
			}
		}
	}
}
