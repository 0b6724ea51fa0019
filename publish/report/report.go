package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// WritePlanText prints plans for a reviewer: one block per set and target, a line per changed
// kid, header and discovery change, then the objects that would be written.
func WritePlanText(w io.Writer, plans []*publish.Plan) error {
	var b strings.Builder
	for _, p := range plans {
		fmt.Fprintf(&b, "set %q -> %s\n", p.Set, p.Target)
		if !p.Changed() {
			b.WriteString("  unchanged\n")
			continue
		}
		if p.First {
			b.WriteString("  first publication: nothing is live yet\n")
		}
		for _, k := range p.Keys {
			switch k.Action {
			case publish.ActionAdd:
				fmt.Fprintf(&b, "  + %s %s from %s\n", k.KID, k.Alg, k.Source)
			case publish.ActionRemove:
				fmt.Fprintf(&b, "  - %s %s\n", k.KID, k.Alg)
			case publish.ActionChange:
				fmt.Fprintf(&b, "  ~ %s %s: %s changed", k.KID, k.Alg, strings.Join(k.Changes, ", "))
				if k.OldAlg != "" {
					fmt.Fprintf(&b, " (alg was %s)", k.OldAlg)
				}
				b.WriteString("\n")
			}
		}
		for _, h := range p.Headers {
			fmt.Fprintf(&b, "  header %s: %q -> %q\n", h.Name, h.Old, h.New)
		}
		if p.Discovery != "" {
			fmt.Fprintf(&b, "  discovery document: %s\n", p.Discovery)
		}
		added, removed, changed := p.Count()
		kept := len(p.Keys) - added - removed - changed
		fmt.Fprintf(&b, "  keys: %d added, %d removed, %d changed, %d kept\n", added, removed, changed, kept)
		for _, o := range p.Objects {
			fmt.Fprintf(&b, "  %s %s\n", o.Action, o.Key)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PlanReport is the JSON form of a diff: every plan and whether any would change something.
type PlanReport struct {
	Changed bool            `json:"changed"`
	Plans   []*publish.Plan `json:"plans"`
}

// WritePlanJSON writes plans as an indented PlanReport.
func WritePlanJSON(w io.Writer, plans []*publish.Plan) error {
	r := PlanReport{Plans: plans}
	if r.Plans == nil {
		r.Plans = []*publish.Plan{}
	}
	for _, p := range plans {
		r.Changed = r.Changed || p.Changed()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WritePlanMarkdown writes the Markdown summary for a CI step summary (GitHub's
// $GITHUB_STEP_SUMMARY): a heading and a table of key changes per set and target.
func WritePlanMarkdown(w io.Writer, title string, plans []*publish.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", title)
	for _, p := range plans {
		fmt.Fprintf(&b, "**%s** → `%s`: ", mdEscape(p.Set), p.Target)
		if !p.Changed() {
			b.WriteString("unchanged\n\n")
			continue
		}
		added, removed, changed := p.Count()
		fmt.Fprintf(&b, "%d added, %d removed, %d changed", added, removed, changed)
		if p.First {
			b.WriteString(" (first publication)")
		}
		b.WriteString("\n\n")
		if added+removed+changed > 0 {
			b.WriteString("| | kid | alg | detail |\n|---|---|---|---|\n")
			for _, k := range p.Keys {
				var sign, detail string
				switch k.Action {
				case publish.ActionAdd:
					sign, detail = "+", "from "+k.Source
				case publish.ActionRemove:
					sign = "−"
				case publish.ActionChange:
					sign, detail = "~", strings.Join(k.Changes, ", ")+" changed"
				default:
					continue
				}
				fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", sign, mdEscape(k.KID), k.Alg, mdEscape(detail))
			}
			b.WriteString("\n")
		}
		for _, h := range p.Headers {
			fmt.Fprintf(&b, "- header %s: `%s` → `%s`\n", h.Name, h.Old, h.New)
		}
		if p.Discovery != "" {
			fmt.Fprintf(&b, "- discovery document: %s\n", p.Discovery)
		}
		if len(p.Headers) > 0 || p.Discovery != "" {
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps kids and sources from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}

// WriteTimelineText prints timelines for people: one line per kid with its dates, and the kid
// to sign with now.
func WriteTimelineText(w io.Writer, tls []*rotation.Timeline) error {
	var b strings.Builder
	day := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, tl := range tls {
		fmt.Fprintf(&b, "set %q -> %s\n", tl.Set, tl.Target)
		mtl := tl.MaxTokenLifetime
		if mtl == "" {
			mtl = "unset (every removal needs --allow-removal)"
		}
		fmt.Fprintf(&b, "  safe delay %s, max_token_lifetime %s\n", tl.SafeDelay, mtl)
		if len(tl.Keys) == 0 {
			b.WriteString("  nothing published yet\n")
			continue
		}
		for _, k := range tl.Keys {
			state := "live"
			if !k.Live {
				state = "not live"
			}
			if k.Retired != nil {
				state = "retired " + day(k.Retired)
			}
			if o := k.RemovalAllowed; o != nil {
				state += fmt.Sprintf(", removal allowed by %s at %s", o.By, day(&o.At))
			}
			source := k.Source
			if k.Version > 0 {
				source += fmt.Sprintf(" v%d", k.Version)
			}
			removable := day(k.RemovableFrom)
			if k.RemovableFrom == nil && k.Retired == nil {
				removable = "- (needs --allow-removal: no max_token_lifetime)"
				if k.Superseded == nil && tl.MaxTokenLifetime != "" {
					removable = "- (publish a successor first)"
				}
			}
			safe := day(&k.SafeFrom)
			if k.FirstPublished.IsZero() {
				safe = "-"
			}
			fmt.Fprintf(&b, "  %s (%s, %s)\n    first published %s, safe to sign with from %s, superseded %s, removable from %s\n",
				k.KID, source, state, day(&k.FirstPublished), safe, day(k.Superseded), removable)
		}
		if tl.SignWith != "" {
			fmt.Fprintf(&b, "  sign with: %s (the newest key every verifier has)\n", tl.SignWith)
		} else {
			b.WriteString("  sign with: none yet (no live key has been published for the safe delay)\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
