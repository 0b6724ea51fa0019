package report

import (
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

// WriteVerdictMarkdown adds the rotation guard's verdict to a CI summary: every refusal with
// its rule and fix (nothing was written), and what the overrides let through. Nothing when
// the guard had nothing to say.
func WriteVerdictMarkdown(w io.Writer, v publish.Verdict) error {
	var b strings.Builder
	list := func(vs []publish.GuardViolation) {
		for _, x := range vs {
			fmt.Fprintf(&b, "- **%s** → `%s`: ", mdEscape(x.Set), x.Target)
			if x.KID != "" {
				fmt.Fprintf(&b, "`%s` ", mdEscape(x.KID))
			}
			fmt.Fprintf(&b, "**%s**: %s (fix: %s)", x.Rule, mdEscape(x.Detail), mdEscape(x.Fix))
			if x.OverriddenBy != "" {
				fmt.Fprintf(&b, ", overridden by `--%s`", x.OverriddenBy)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(v.Refused) > 0 {
		fmt.Fprintf(&b, "**Refused by the rotation guard, nothing written** (%d violation(s)):\n\n", len(v.Refused))
		list(v.Refused)
	}
	if len(v.Overridden) > 0 {
		b.WriteString("**Let through by an override:**\n\n")
		list(v.Overridden)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps kids and sources from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}

// WriteTimelineText prints timelines for people: one line per kid with its dates, each with
// how far it is from the timeline's time ("in 6m", "3h ago"), and the kid to sign with now.
func WriteTimelineText(w io.Writer, tls []*rotation.Timeline) error {
	var b strings.Builder
	for _, tl := range tls {
		day := func(t *time.Time) string {
			if t == nil || t.IsZero() {
				return "-"
			}
			return t.UTC().Format(time.RFC3339) + " (" + relative(*t, tl.Now) + ")"
		}
		fmt.Fprintf(&b, "set %q -> %s\n", tl.Set, tl.Target)
		mtl := tl.MaxTokenLifetime.String()
		if tl.MaxTokenLifetime == 0 {
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
				state += fmt.Sprintf(", removal allowed by %s at %s", o.By, o.At.UTC().Format(time.RFC3339))
			}
			source := k.Source
			if k.Version > 0 {
				source += fmt.Sprintf(" v%d", k.Version)
			}
			removable := day(k.RemovableFrom)
			if k.RemovableFrom == nil && k.Retired == nil {
				removable = "- (needs --allow-removal: no max_token_lifetime)"
				if k.Superseded == nil && tl.MaxTokenLifetime != 0 {
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

// relative says how far t is from now in at most two units: "in 6m", "3h 20m ago", "1d 2h
// ago", "now". A person reading status wants to know whether to wait minutes or days; the
// exact time is beside it.
func relative(t, now time.Time) string {
	d := t.Sub(now)
	if d > -time.Second && d < time.Second {
		return "now"
	}
	a := d.Abs()
	var s string
	switch {
	case a >= 24*time.Hour:
		s = twoUnits(int64(a/(24*time.Hour)), "d", int64(a%(24*time.Hour)/time.Hour), "h")
	case a >= time.Hour:
		s = twoUnits(int64(a/time.Hour), "h", int64(a%time.Hour/time.Minute), "m")
	case a >= time.Minute:
		s = twoUnits(int64(a/time.Minute), "m", int64(a%time.Minute/time.Second), "s")
	default:
		s = fmt.Sprintf("%ds", int64(a/time.Second))
	}
	if d > 0 {
		return "in " + s
	}
	return s + " ago"
}

func twoUnits(n int64, unit string, m int64, sub string) string {
	if m == 0 {
		return fmt.Sprintf("%d%s", n, unit)
	}
	return fmt.Sprintf("%d%s %d%s", n, unit, m, sub)
}
