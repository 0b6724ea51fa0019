package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"
	"unicode/utf8"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// The geometry of a timeline picture, in SVG user units (CSS pixels at 1:1).
const (
	svgWidth   = 960
	plotLeft   = 230.0
	plotRight  = 940.0
	axisTop    = 46.0 // the axis labels sit above it
	rowHeight  = 40.0
	barTop     = 16.0 // from the row's top
	barHeight  = 18.0
	footHeight = 96.0 // scale bars and legend
)

// Segment kinds: each has a CSS class and a fill pattern, so the picture reads without colour.
const (
	segWait      = "wait"      // published, not yet in every verifier's cache
	segSafe      = "safe"      // safe to sign with
	segDrain     = "drain"     // superseded; tokens it signed may still be verified
	segRemovable = "removable" // may be removed
)

var segLabels = map[string]string{
	segWait:      "safe delay",
	segSafe:      "safe to sign",
	segDrain:     "superseded",
	segRemovable: "removable",
}

type svgSegment struct {
	Kind, Label, Title string
	X, W, Y            string
	LabelX, LabelY     string
}

type svgRow struct {
	Index              int
	KID, Label, Detail string
	SignWith           bool
	Y, BarY, TextY     string
	SubY, LabelY       string
	Segments           []svgSegment
	Retired            string // x of the retirement mark, empty when live
	NoDates            bool
}

type svgTick struct{ X, Label string }

type svgScale struct {
	Label, X, W, Y string
}

type svgView struct {
	ID                 string
	Width, Height      int
	Title              string
	Rows               []svgRow
	Ticks              []svgTick
	AxisY, PlotBottom  string
	NowX, Now, NowText string
	Scales             []svgScale
	LegendY            string
	Legend             []svgSegment
	PlotLeft           string
	PlotRight          string
}

// WriteTimelineSVG draws tl as an SVG: one row per kid in the order of status's text, each a
// bar of segments (published → safe to sign → superseded → removable) on a UTC time axis, the
// safe delay and max_token_lifetime as scale bars, a line at tl.Now and the key to sign with
// marked. id prefixes the pattern ids so several pictures can share one HTML page. The output
// depends only on its arguments.
func WriteTimelineSVG(w io.Writer, tl *rotation.Timeline, id string) error {
	v := timelineView(tl, id)
	var b bytes.Buffer
	if err := svgTemplate.ExecuteTemplate(&b, "svg", v); err != nil {
		return fmt.Errorf("timeline picture of set %q at %s: %w", tl.Set, tl.Target, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func timelineView(tl *rotation.Timeline, id string) svgView {
	now := tl.Now.UTC()
	delay, mtl := tl.SafeDelay, tl.MaxTokenLifetime
	lo, hi := now, now
	widen := func(t *time.Time) {
		if t == nil || t.IsZero() {
			return
		}
		if t.Before(lo) {
			lo = *t
		}
		if t.After(hi) {
			hi = *t
		}
	}
	for i := range tl.Keys {
		k := &tl.Keys[i]
		if k.FirstPublished.IsZero() {
			continue
		}
		widen(&k.FirstPublished)
		widen(&k.SafeFrom)
		widen(k.Superseded)
		widen(k.RemovableFrom)
		widen(k.Retired)
	}
	span := hi.Sub(lo)
	if span < time.Hour {
		span = time.Hour
	}
	// A margin each side, so the now line and open ends never touch the edges.
	lo = lo.Add(-span / 20)
	hi = lo.Add(span + span/10)
	scale := (plotRight - plotLeft) / float64(hi.Sub(lo))
	x := func(t time.Time) float64 { return plotLeft + float64(t.Sub(lo))*scale }

	v := svgView{ID: id, Width: svgWidth, Title: fmt.Sprintf("set %s at %s", tl.Set, tl.Target),
		AxisY: num(axisTop), PlotLeft: num(plotLeft), PlotRight: num(plotRight)}
	for i, k := range tl.Keys {
		top := axisTop + float64(i)*rowHeight
		r := svgRow{Index: i, KID: k.KID, Label: ellipsis(k.KID, 26), SignWith: tl.SignWith == k.KID,
			Y: num(top), BarY: num(top + barTop), TextY: num(top + 20), SubY: num(top + 33), LabelY: num(top + barTop + 13)}
		state := "live"
		if !k.Live {
			state = "not live"
		}
		if k.Retired != nil {
			state = "retired"
		}
		r.Detail = ellipsis(k.Source, 30)
		if k.Version > 0 {
			r.Detail += fmt.Sprintf(" v%d", k.Version)
		}
		r.Detail += ", " + state
		if k.FirstPublished.IsZero() {
			r.NoDates = true
			v.Rows = append(v.Rows, r)
			continue
		}
		end := hi
		if k.Retired != nil && k.Retired.Before(end) {
			end = *k.Retired
			r.Retired = num(x(end))
		}
		add := func(kind string, from time.Time, to *time.Time) {
			t := end
			if to != nil && to.Before(end) {
				t = *to
			}
			if !from.Before(t) {
				return
			}
			x0, x1 := x(from), x(t)
			s := svgSegment{Kind: kind, X: num(x0), W: num(x1 - x0), Y: r.BarY, LabelX: num((x0 + x1) / 2), LabelY: r.LabelY,
				Title: fmt.Sprintf("%s: %s from %s", k.KID, segLabels[kind], utcText(from))}
			if to != nil && to.Before(hi) {
				s.Title += " to " + utcText(*to)
			}
			// A label only where it fits; the pattern and the legend say the same.
			if x1-x0 >= float64(utf8.RuneCountInString(segLabels[kind]))*6.2+8 {
				s.Label = segLabels[kind]
			}
			r.Segments = append(r.Segments, s)
		}
		next := k.Superseded
		add(segWait, k.FirstPublished, &k.SafeFrom)
		if next == nil || k.SafeFrom.Before(*next) {
			add(segSafe, k.SafeFrom, next)
		}
		if k.Superseded != nil {
			add(segDrain, *k.Superseded, k.RemovableFrom)
		}
		if k.RemovableFrom != nil {
			add(segRemovable, *k.RemovableFrom, nil)
		}
		v.Rows = append(v.Rows, r)
	}
	plotBottom := axisTop + float64(len(tl.Keys))*rowHeight + 8
	v.PlotBottom = num(plotBottom)
	v.NowX, v.Now, v.NowText = num(x(now)), now.Format(time.RFC3339), "now "+now.Format("2006-01-02 15:04 -07:00")
	step := tickStep(hi.Sub(lo))
	layout := "01-02 15:04"
	if step >= 24*time.Hour {
		layout = "2006-01-02"
	}
	for t := lo.Truncate(step); !t.After(hi); t = t.Add(step) {
		if t.Before(lo) {
			continue
		}
		v.Ticks = append(v.Ticks, svgTick{X: num(x(t)), Label: t.Format(layout)})
	}
	sy := plotBottom + 18
	// The two durations the rotation waits for, drawn to the axis's scale.
	scaleBar := func(label string, d time.Duration) {
		v.Scales = append(v.Scales, svgScale{Label: label, X: num(plotLeft), W: num(float64(d) * scale), Y: num(sy)})
		sy += 18
	}
	scaleBar("safe delay "+delay.String(), delay)
	if mtl > 0 {
		scaleBar("max_token_lifetime "+mtl.String(), mtl)
	} else {
		scaleBar("max_token_lifetime unset (removal needs --allow-removal)", 0)
	}
	v.LegendY = num(sy + 6)
	lx := plotLeft
	for _, kind := range []string{segWait, segSafe, segDrain, segRemovable} {
		v.Legend = append(v.Legend, svgSegment{Kind: kind, Label: segLabels[kind], X: num(lx), LabelX: num(lx + 30)})
		lx += 150
	}
	v.Height = int(sy + 30)
	if v.Height < int(plotBottom+footHeight) {
		v.Height = int(plotBottom + footHeight)
	}
	return v
}

// tickStep is the smallest round step that puts at most 8 ticks on span.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
		14 * 24 * time.Hour, 30 * 24 * time.Hour} {
		if span/s <= 8 {
			return s
		}
	}
	return 90 * 24 * time.Hour
}

// num formats a coordinate with one decimal, so the golden files do not depend on float noise.
func num(f float64) string { return fmt.Sprintf("%.1f", f) }

// utcText is a date as people read it here: UTC, with the offset written out.
func utcText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 -07:00") }

func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// svgStyle colours the picture; light and dark follow the reader's preference. Colour only
// helps: every segment also has its own pattern and a label or legend entry.
const svgStyle = `
.tl{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--grid:#d1d9e0;--wait:#e3b341;--safe:#2da44e;--drain:#0969da;--rem:#8c959f;--now:#cf222e}
@media (prefers-color-scheme: dark){.tl{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--grid:#30363d;--wait:#bb8009;--safe:#3fb950;--drain:#4493f8;--rem:#6e7681;--now:#ff7b72}}
.tl{font-family:ui-sans-serif,system-ui,"DejaVu Sans",sans-serif;font-size:12px;background:var(--bg)}
.tl .bg{fill:var(--bg)}
.tl text{fill:var(--fg)}
.tl .muted{fill:var(--muted);font-size:10.5px}
.tl .grid{stroke:var(--grid);stroke-width:1}
.tl .bar{stroke:var(--fg);stroke-width:1}
.tl .signwith .bar{stroke-width:2.5}
.tl .kid{font-weight:600}
.tl .seglabel{font-size:11px;paint-order:stroke;stroke:var(--bg);stroke-width:3px;stroke-linejoin:round}
.tl .now{stroke:var(--now);stroke-width:2;stroke-dasharray:6 3}
.tl .nowtext{fill:var(--now);font-weight:600}
.tl .retired{stroke:var(--fg);stroke-width:2}
.tl .scale{stroke:var(--fg);stroke-width:2}
.tl .p-bg{fill:var(--bg)}
.tl .p-wait{stroke:var(--wait);stroke-width:3}
.tl .p-safe{fill:var(--safe)}
.tl .p-drain{fill:var(--drain)}
.tl .p-rem{stroke:var(--rem);stroke-width:1.5}
`

var svgTemplate = template.Must(template.New("svg").Parse(`{{define "svg"}}<svg xmlns="http://www.w3.org/2000/svg" class="tl" role="img" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" data-now="{{.Now}}" data-rows="{{len .Rows}}">
<title>{{.Title}}</title>
<style>` + svgStyle + `</style>
<defs>
<pattern id="{{.ID}}-wait" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="p-bg" width="8" height="8"/><line class="p-wait" x1="2" y1="0" x2="2" y2="8"/></pattern>
<pattern id="{{.ID}}-safe" width="8" height="8" patternUnits="userSpaceOnUse"><rect class="p-safe" width="8" height="8"/></pattern>
<pattern id="{{.ID}}-drain" width="6" height="6" patternUnits="userSpaceOnUse"><rect class="p-bg" width="6" height="6"/><circle class="p-drain" cx="3" cy="3" r="1.6"/></pattern>
<pattern id="{{.ID}}-removable" width="8" height="8" patternUnits="userSpaceOnUse"><rect class="p-bg" width="8" height="8"/><path class="p-rem" d="M0 0L8 8M8 0L0 8"/></pattern>
</defs>
<rect class="bg" width="{{.Width}}" height="{{.Height}}"/>
<text x="10" y="18" class="kid">{{.Title}}</text>
<text x="{{.PlotRight}}" y="18" text-anchor="end" class="muted">times in UTC (+00:00)</text>
{{range .Ticks}}<line class="grid" x1="{{.X}}" y1="{{$.AxisY}}" x2="{{.X}}" y2="{{$.PlotBottom}}"/><text x="{{.X}}" y="{{$.AxisY}}" dy="-6" text-anchor="middle" class="muted">{{.Label}}</text>
{{end}}{{range .Rows}}<g class="row{{if .SignWith}} signwith{{end}}" data-row="{{.Index}}" data-kid="{{.KID}}">
<text x="10" y="{{.TextY}}" class="kid">{{.Label}}{{if .SignWith}} ◀ sign with{{end}}</text>
<text x="10" y="{{.SubY}}" class="muted">{{.Detail}}</text>
{{if .NoDates}}<text x="{{$.PlotLeft}}" y="{{.LabelY}}" class="muted">live, but no state: no dates to show</text>
{{end}}{{range .Segments}}<rect class="bar seg-{{.Kind}}" data-segment="{{.Kind}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="18" fill="url(#{{$.ID}}-{{.Kind}})"><title>{{.Title}}</title></rect>
{{if .Label}}<text class="seglabel" x="{{.LabelX}}" y="{{.LabelY}}" text-anchor="middle">{{.Label}}</text>
{{end}}{{end}}{{if .Retired}}<path class="retired" d="M{{.Retired}} {{.BarY}}v18"/>
{{end}}</g>
{{end}}<line class="now" x1="{{.NowX}}" y1="{{.AxisY}}" x2="{{.NowX}}" y2="{{.PlotBottom}}"/>
<text class="nowtext" x="{{.NowX}}" y="{{.PlotBottom}}" dy="13" text-anchor="middle">{{.NowText}}</text>
{{range .Scales}}<path class="scale" d="M{{.X}} {{.Y}}h{{.W}}m0 -4v8m-{{.W}} -8v8"/><text x="10" y="{{.Y}}" dy="4" class="muted">{{.Label}}</text>
{{end}}{{range .Legend}}<rect class="bar" x="{{.X}}" y="{{$.LegendY}}" width="24" height="10" fill="url(#{{$.ID}}-{{.Kind}})"/><text x="{{.LabelX}}" y="{{$.LegendY}}" dy="9">{{.Label}}</text>
{{end}}</svg>{{end}}`))
