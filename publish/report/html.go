package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// TimelinePage is one set and target of the HTML report: its timeline and the headers stored
// with its live document (nil where the target stores none).
type TimelinePage struct {
	Timeline *rotation.Timeline
	Headers  []publish.LiveHeader
}

type htmlKey struct {
	KID, Source, Version, State                              string
	SignWith                                                 bool
	FirstPublished, SafeFrom, Superseded, Removable, Retired string
}

type htmlSection struct {
	Set, Target, SafeDelay, MaxTokenLifetime, SignWith string
	SVG                                                template.HTML
	Keys                                               []htmlKey
	Headers                                            []publish.LiveHeader
}

type htmlView struct {
	Now      string
	Sections []htmlSection
	Stale    []Stale
}

// WriteTimelineHTML writes status as one self-contained HTML page: per set and target, the
// timeline picture (WriteTimelineSVG), a table of the same dates with each key's source and
// version, and the live document's headers. No script and nothing fetched: the page can be
// mailed, archived as a CI artifact or opened from disk. The output depends only on its
// arguments.
func WriteTimelineHTML(w io.Writer, now time.Time, pages []TimelinePage, stale []publish.Stale) error {
	v := htmlView{Now: utcText(now), Stale: staleOf(stale)}
	for i, p := range pages {
		tl := p.Timeline
		var svg bytes.Buffer
		if err := WriteTimelineSVG(&svg, tl, fmt.Sprintf("tl%d", i)); err != nil {
			return err
		}
		s := htmlSection{Set: tl.Set, Target: tl.Target, SafeDelay: tl.SafeDelay.String(), MaxTokenLifetime: tl.MaxTokenLifetime.String(),
			SignWith: tl.SignWith, Headers: p.Headers,
			// The picture comes from svgTemplate, an html/template that escaped every value in it.
			SVG: template.HTML(svg.String())}
		if tl.MaxTokenLifetime == 0 {
			s.MaxTokenLifetime = "unset (every removal needs --allow-removal)"
		}
		for _, k := range tl.Keys {
			day := func(t *time.Time) string {
				if t == nil || t.IsZero() {
					return "–"
				}
				return utcText(*t) + " (" + relative(*t, tl.Now) + ")"
			}
			hk := htmlKey{KID: k.KID, Source: k.Source, SignWith: k.KID == tl.SignWith, State: "live",
				Superseded: day(k.Superseded), Removable: day(k.RemovableFrom), Retired: day(k.Retired), FirstPublished: "–", SafeFrom: "–"}
			if k.Version > 0 {
				hk.Version = fmt.Sprintf("v%d", k.Version)
			}
			if !k.Live {
				hk.State = "not live"
			}
			if k.Retired != nil {
				hk.State = "retired"
			}
			if o := k.RemovalAllowed; o != nil {
				hk.State += fmt.Sprintf(", removal allowed by %s at %s", o.By, utcText(o.At))
			}
			if !k.FirstPublished.IsZero() {
				hk.FirstPublished, hk.SafeFrom = day(&k.FirstPublished), day(&k.SafeFrom)
			}
			if k.RemovableFrom == nil && k.Retired == nil {
				hk.Removable = "– (needs --allow-removal: no max_token_lifetime)"
				if k.Superseded == nil && tl.MaxTokenLifetime != 0 {
					hk.Removable = "– (publish a successor first)"
				}
			}
			s.Keys = append(s.Keys, hk)
		}
		v.Sections = append(v.Sections, s)
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

var htmlTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="color-scheme" content="light dark">
<title>jwkspub status</title>
<style>
:root{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--mark:#fff8c5}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--mark:#3b2e00}}
body{margin:16px;background:var(--bg);color:var(--fg);font-family:ui-sans-serif,system-ui,"DejaVu Sans",sans-serif;font-size:14px}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:28px 0 6px}
p.meta,td.muted{color:var(--muted)}
figure{margin:8px 0;overflow-x:auto}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
tr.signwith td{background:var(--mark);font-weight:600}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace}
</style>
</head>
<body>
<h1>jwkspub status</h1>
<p class="meta">at <time>{{.Now}}</time>; every time in UTC (offset +00:00)</p>
{{range .Sections}}<section class="timeline" data-set="{{.Set}}" data-target="{{.Target}}">
<h2>set <code>{{.Set}}</code> → <code>{{.Target}}</code></h2>
<p class="meta">safe delay {{.SafeDelay}}, max_token_lifetime {{.MaxTokenLifetime}}; sign with: {{if .SignWith}}<strong><code>{{.SignWith}}</code></strong> (the newest key every verifier has){{else}}none yet (no live key has been published for the safe delay){{end}}</p>
<figure>{{.SVG}}</figure>
{{if .Keys}}<table class="keys">
<thead><tr><th>kid</th><th>source</th><th>version</th><th>state</th><th>first published</th><th>safe to sign with from</th><th>superseded</th><th>removable from</th><th>retired</th></tr></thead>
<tbody>
{{range .Keys}}<tr{{if .SignWith}} class="signwith"{{end}} data-kid="{{.KID}}"><td><code>{{.KID}}</code>{{if .SignWith}} ◀ sign with{{end}}</td><td>{{.Source}}</td><td>{{.Version}}</td><td>{{.State}}</td><td>{{.FirstPublished}}</td><td>{{.SafeFrom}}</td><td>{{.Superseded}}</td><td>{{.Removable}}</td><td>{{.Retired}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p>nothing published yet</p>
{{end}}{{if .Headers}}<table class="headers">
<thead><tr><th>live document header</th><th>value</th></tr></thead>
<tbody>
{{range .Headers}}<tr><td><code>{{.Name}}</code></td><td><code>{{.Value}}</code></td></tr>
{{end}}</tbody>
</table>
{{else}}<p class="meta">live document headers: not stored at this target (a directory's are the web server's configuration)</p>
{{end}}</section>
{{end}}{{if .Stale}}<h2>could not read</h2>
<ul>
{{range .Stale}}<li>set <code>{{.Set}}</code> → <code>{{.Target}}</code>: {{.Error}}</li>
{{end}}</ul>
{{end}}</body>
</html>
`))
