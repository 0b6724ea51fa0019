//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target/file"
)

// timelinePNG is the README's picture; `make timeline-png` regenerates it through
// TestBrowserStatusPage with JWKSPUB_TIMELINE_PNG set to its path.
const timelinePNGEnv = "JWKSPUB_TIMELINE_PNG"

var t0Browser = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// threeKeyTimeline publishes, on an injected clock, k1 at t0, k2 at t0+2h and k3 at t0+20h
// under a one-hour Cache-Control and a 12h max_token_lifetime, and reads the timeline at
// t0+20h30m: k1 superseded and removable, k2 safe to sign with, k3 not yet safe.
func threeKeyTimeline(t *testing.T) *rotation.Timeline {
	t.Helper()
	ctx := context.Background()
	cfg := &config.SetConfig{Name: "prod", Output: config.Output{CacheControl: "public, max-age=3600"},
		Rotation: rotation.Rules{MaxTokenLifetime: rotation.Duration(12 * time.Hour)}}
	wk := filepath.Join(t.TempDir(), ".well-known")
	ft, err := file.New(wk, "jwks.json", file.Options{CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	d := publish.Destination{URL: "file://" + filepath.ToSlash(filepath.Join(wk, "jwks.json")), Target: ft}
	for _, step := range []struct {
		at    time.Duration
		seeds []byte
	}{{0, []byte{1}}, {2 * time.Hour, []byte{1, 2}}, {20 * time.Hour, []byte{1, 2, 3}}} {
		p, err := publish.PlanTarget(ctx, d, publish.PlanOptions{Set: cfg, Keys: testkeys.Rot(t, step.seeds...), Now: t0Browser.Add(step.at), Version: "test"})
		if err == nil {
			err = publish.Guard([]*publish.Plan{p}, publish.GuardOptions{})
		}
		if err == nil {
			err = publish.Apply(ctx, p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	tl, err := publish.ReadTimeline(ctx, d, cfg, t0Browser.Add(20*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tl.Target = "file:///srv/www/.well-known/jwks.json"
	return tl
}

// chromium runs Debian's headless Chromium (installed by .ci/services.sh) on url with args,
// as root in a container: no sandbox, no GPU, nothing fetched but the page. It returns
// stdout and stderr; a missing Chromium fails the test.
func chromium(t *testing.T, url string, args ...string) (stdout, stderr string) {
	t.Helper()
	bin := needEnv(t, "JWKSPUB_CHROMIUM")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("JWKSPUB_CHROMIUM: %v (.ci/services.sh installs Debian's chromium)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--hide-scrollbars", "--force-device-scale-factor=1",
		"--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	cmd.Dir = t.TempDir() // --screenshot without a path writes here
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, errb.String())
	}
	return out.String(), errb.String()
}

// pageServer serves dir (and mermaid's bundle at /mermaid.min.js when given) on loopback and
// records every request with its status, so a test sees whether the browser asked for
// anything the page does not hold (a page that fetches nothing asks only for itself).
type pageServer struct {
	URL  string
	mu   sync.Mutex
	reqs []string
}

func servePages(t *testing.T, dir, mermaidJS string) *pageServer {
	t.Helper()
	ps := &pageServer{}
	files := http.FileServer(http.Dir(dir))
	mux := http.NewServeMux()
	mux.Handle("/", files)
	if mermaidJS != "" {
		mux.HandleFunc("/mermaid.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, mermaidJS) })
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		ps.mu.Lock()
		ps.reqs = append(ps.reqs, fmt.Sprintf("%s %d", r.URL.Path, rec.code))
		ps.mu.Unlock()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ps.URL = "http://" + ln.Addr().String()
	return ps
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// failed returns the requests that were not answered 200, and forgets every request. A
// browser's own favicon request is not the page's doing and is left out.
func (ps *pageServer) failed() (bad, all []string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, r := range ps.reqs {
		if strings.HasPrefix(r, "/favicon.ico ") {
			continue
		}
		all = append(all, r)
		if !strings.HasSuffix(r, " 200") {
			bad = append(bad, r)
		}
	}
	ps.reqs = nil
	return bad, all
}

// TestBrowserCatchesFailedLoads: the check "nothing failed to load" sees a failure when there
// is one, or it could not fail.
func TestBrowserCatchesFailedLoads(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.html"), []byte(`<!DOCTYPE html><p>x</p><img src="missing.png">`), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := servePages(t, dir, "")
	chromium(t, ps.URL+"/broken.html", "--dump-dom")
	if bad, all := ps.failed(); len(bad) != 1 || bad[0] != "/missing.png 404" {
		t.Fatalf("a missing image did not show as a failed load: failed %v of %v", bad, all)
	}
}

// rgb is a colour of the picture's light palette (publish/report/svg.go).
type rgb struct{ r, g, b uint8 }

var (
	colWait = rgb{0xe3, 0xb3, 0x41}
	colSafe = rgb{0x2d, 0xa4, 0x4e}
	colNow  = rgb{0xcf, 0x22, 0x2e}
	colBG   = rgb{0xff, 0xff, 0xff}
	colBGD  = rgb{0x0d, 0x11, 0x17}
	// The dark palette's.
	colWaitD = rgb{0xbb, 0x80, 0x09}
	colSafeD = rgb{0x3f, 0xb9, 0x50}
)

func near(img image.Image, x, y int, c rgb) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	d := func(a uint32, b uint8) bool { v := int(a>>8) - int(b); return v >= -10 && v <= 10 }
	return d(r, c.r) && d(g, c.g) && d(b, c.b)
}

// band is a run of screen rows that hold a bar: its extent and where its segments start.
type band struct {
	top, bottom        int
	waitLeft, safeLeft int // leftmost pixel of the safe-delay hatch and the safe-to-sign fill
	hasWait, hasSafe   bool
}

// bars finds the timeline's bars in a screenshot: rows with the safe-delay or safe-to-sign
// colour, grouped into runs at least 12 pixels high (the legend's swatches are 10).
func bars(img image.Image, colWait, colSafe rgb) []band {
	bnd := img.Bounds()
	var out []band
	var cur *band
	for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
		waitL, safeL := -1, -1
		for x := bnd.Min.X; x < bnd.Max.X; x++ {
			if waitL < 0 && near(img, x, y, colWait) {
				waitL = x
			}
			if safeL < 0 && near(img, x, y, colSafe) {
				safeL = x
			}
		}
		if waitL < 0 && safeL < 0 {
			if cur != nil && cur.bottom-cur.top+1 >= 12 {
				out = append(out, *cur)
			}
			cur = nil
			continue
		}
		if cur == nil {
			cur = &band{top: y, waitLeft: 1 << 30, safeLeft: 1 << 30}
		}
		cur.bottom = y
		if waitL >= 0 {
			cur.hasWait, cur.waitLeft = true, min(cur.waitLeft, waitL)
		}
		if safeL >= 0 {
			cur.hasSafe, cur.safeLeft = true, min(cur.safeLeft, safeL)
		}
	}
	return out
}

// nowColumn is the x of the "now" line: the column with the most pixels of its colour.
func nowColumn(img image.Image) (int, int) {
	bnd := img.Bounds()
	best, count := -1, 0
	for x := bnd.Min.X; x < bnd.Max.X; x++ {
		n := 0
		for y := bnd.Min.Y; y < bnd.Max.Y; y++ {
			if near(img, x, y, colNow) {
				n++
			}
		}
		if n > count {
			best, count = x, n
		}
	}
	return best, count
}

// TestBrowserStatusPage renders status's HTML page of the three-key rotation in headless
// Chromium and checks, from the pixels, that three bars are drawn in order of publication and
// that "now" falls inside k3's safe delay; from the DOM, the rows in the text output's order
// and the key to sign with; and that nothing failed to load. In dark mode the page is dark.
func TestBrowserStatusPage(t *testing.T) {
	tl := threeKeyTimeline(t)
	var pageBuf bytes.Buffer
	if err := report.WriteTimelineHTML(&pageBuf, tl.Now, []report.TimelinePage{{Timeline: tl}}, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "status.html")
	if err := os.WriteFile(page, pageBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := servePages(t, dir, "")
	url := ps.URL + "/status.html"

	dom, _ := chromium(t, url, "--dump-dom")
	if bad, all := ps.failed(); len(bad) > 0 || len(all) != 1 {
		t.Errorf("the page must load nothing but itself: requests %v, failed %v", all, bad)
	}
	rows := regexp.MustCompile(`<g class="row[^"]*" data-row="(\d)" data-kid="([^"]+)">`).FindAllStringSubmatch(dom, -1)
	var order []string
	for _, r := range rows {
		order = append(order, r[1]+":"+r[2])
	}
	if strings.Join(order, ",") != "0:k1,1:k2,2:k3" {
		t.Errorf("rows in the DOM: %v, want k1, k2, k3 in that order", order)
	}
	if !strings.Contains(dom, `<g class="row signwith" data-row="1" data-kid="k2">`) || !strings.Contains(dom, "k2 ◀ sign with") {
		t.Error("k2 is not marked as the key to sign with in the DOM")
	}
	if !strings.Contains(dom, `data-now="2026-03-02T08:30:00Z"`) {
		t.Error("the picture's now is not 2026-03-02T08:30:00Z in the DOM")
	}

	shot := filepath.Join(dir, "status.png")
	chromium(t, url, "--window-size=1000,800", "--screenshot="+shot)
	if bad, all := ps.failed(); len(bad) > 0 || len(all) != 1 {
		t.Errorf("the page must load nothing but itself: requests %v, failed %v", all, bad)
	}
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !near(img, 2, 2, colBG) {
		t.Errorf("light mode: background at (2,2) is %v, want white", img.At(2, 2))
	}
	bs := bars(img, colWait, colSafe)
	if len(bs) != 3 {
		t.Fatalf("found %d bars in the screenshot, want 3: %+v", len(bs), bs)
	}
	for i, b := range bs {
		if !b.hasWait || b.bottom-b.top+1 > 22 {
			t.Errorf("bar %d (rows %d-%d) has no safe-delay segment or is too high", i, b.top, b.bottom)
		}
	}
	if !(bs[0].waitLeft < bs[1].waitLeft && bs[1].waitLeft < bs[2].waitLeft) {
		t.Errorf("bars do not start in order of publication: %d, %d, %d", bs[0].waitLeft, bs[1].waitLeft, bs[2].waitLeft)
	}
	nowX, n := nowColumn(img)
	if n < 40 {
		t.Fatalf("no now line in the screenshot (best column %d has %d pixels of its colour)", nowX, n)
	}
	k2, k3 := bs[1], bs[2]
	if !(k2.hasSafe && k2.safeLeft < nowX) {
		t.Errorf("now (x=%d) is not after k2 became safe (x=%d)", nowX, k2.safeLeft)
	}
	if !(k3.waitLeft < nowX && k3.hasSafe && nowX < k3.safeLeft) {
		t.Errorf("now (x=%d) is not between k3's publication (x=%d) and the moment it is safe (x=%d)", nowX, k3.waitLeft, k3.safeLeft)
	}
	if dst := os.Getenv(timelinePNGEnv); dst != "" {
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", dst)
	}

	dark := filepath.Join(dir, "dark.png")
	chromium(t, url, "--window-size=1000,800", "--force-dark-mode", "--blink-settings=preferredColorScheme=0", "--screenshot="+dark)
	if raw, err = os.ReadFile(dark); err != nil {
		t.Fatal(err)
	}
	if img, err = png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if !near(img, 2, 2, colBGD) {
		t.Errorf("dark mode: background at (2,2) is %v, want #0d1117", img.At(2, 2))
	}
	if got := len(bars(img, colWaitD, colSafeD)); got != 3 {
		t.Errorf("dark mode: found %d bars, want 3", got)
	}
}

// TestBrowserMermaid renders the step summary's chart of the three-key rotation with the real
// mermaid library in headless Chromium: an SVG with one task per kid and the now milestone,
// no parse error. One kid holds ':', '#' and ';', which the chart must escape.
func TestBrowserMermaid(t *testing.T) {
	js := needEnv(t, "JWKSPUB_MERMAID_JS")
	if _, err := os.Stat(js); err != nil {
		t.Fatalf("JWKSPUB_MERMAID_JS: %v (.ci/services.sh installs the mermaid npm package)", err)
	}
	tl := threeKeyTimeline(t)
	tl.Keys[0].KID = "urn:key#1;old"
	var md bytes.Buffer
	if err := report.WriteTimelineMermaid(&md, "rotation timeline", []*rotation.Timeline{tl}); err != nil {
		t.Fatal(err)
	}
	chart := strings.TrimSuffix(strings.TrimPrefix(md.String(), "```mermaid\n"), "```\n\n")
	// The page parses first, so a syntax error is named in the DOM, then draws.
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/mermaid.min.js"></script></head>
<body><pre class="mermaid" id="chart">` + html.EscapeString(chart) + `</pre><div id="result">pending</div>
<script>
mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
const text = document.getElementById("chart").textContent;
mermaid.parse(text).then(() => mermaid.run({querySelector: "#chart"}))
  .then(() => { document.getElementById("result").textContent = "rendered"; })
  .catch(e => { document.getElementById("result").textContent = "error: " + e; });
</script></body></html>`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mermaid.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := servePages(t, dir, js)
	// The virtual time budget lets mermaid's promises settle before the DOM is dumped.
	dom, _ := chromium(t, ps.URL+"/mermaid.html", "--virtual-time-budget=15000", "--dump-dom")
	if bad, all := ps.failed(); len(bad) > 0 {
		t.Errorf("the page failed to load something: requests %v, failed %v", all, bad)
	}
	if !strings.Contains(dom, `<div id="result">rendered</div>`) {
		i := strings.Index(dom, `<div id="result">`)
		t.Fatalf("mermaid did not render the chart: %.300s\nchart:\n%s", dom[max(i, 0):], chart)
	}
	if strings.Contains(dom, "Syntax error") || !strings.Contains(dom, "<svg") {
		t.Fatalf("mermaid drew an error or no SVG:\n%.2000s", dom)
	}
	// Mermaid prefixes each task's id with the diagram's.
	tasks := regexp.MustCompile(`<rect id="[\w-]*-(t0k\d)"[^>]*class="task `).FindAllStringSubmatch(dom, -1)
	var ids []string
	for _, m := range tasks {
		ids = append(ids, m[1])
	}
	if strings.Join(ids, ",") != "t0k0,t0k1,t0k2" {
		t.Errorf("tasks drawn: %v, want one per kid: t0k0, t0k1, t0k2", ids)
	}
	if !regexp.MustCompile(`<rect id="[\w-]*-t0now"[^>]*class="task milestone`).MatchString(dom) {
		t.Error("no milestone for now in the chart")
	}
	for _, label := range []string{"urn:key#1;old removable since 03-02 03:00", "k2 sign with", "k3 safe from 03-02 09:00"} {
		if !strings.Contains(dom, ">"+label+"<") {
			t.Errorf("no task labelled %q in the drawn chart", label)
		}
	}
}
