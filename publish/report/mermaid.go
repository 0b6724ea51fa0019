package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// mermaidDate is the dateFormat of the charts; the dates written in it are UTC. Mermaid reads
// and draws them in the reader's zone alike, so the axis shows the UTC wall clock.
const (
	mermaidDateFormat = "YYYY-MM-DD HH:mm:ss"
	mermaidDateLayout = "2006-01-02 15:04:05"
)

// WriteTimelineMermaid writes tls as one fenced Mermaid gantt chart (GitHub draws it in job
// summaries and Markdown): a section per set and target, one task per kid from its first
// publication to when it was retired, became removable or, when open, the end of the chart,
// named with its state; and a milestone at each timeline's now. Kids and targets are data:
// every character Mermaid could read as syntax is written as an entity.
func WriteTimelineMermaid(w io.Writer, title string, tls []*rotation.Timeline) error {
	var b strings.Builder
	b.WriteString("```mermaid\ngantt\n")
	fmt.Fprintf(&b, "    title %s\n", mermaidEscape(title+" (UTC)"))
	fmt.Fprintf(&b, "    dateFormat %s\n    axisFormat %%m-%%d %%H:%%M\n    todayMarker off\n", mermaidDateFormat)
	for ti, tl := range tls {
		fmt.Fprintf(&b, "    section %s\n", mermaidEscape(tl.Set+" → "+tl.Target))
		end := tl.Now
		for _, k := range tl.Keys {
			for _, t := range []*time.Time{&k.SafeFrom, k.Superseded, k.RemovableFrom, k.Retired} {
				if t != nil && t.After(end) {
					end = *t
				}
			}
		}
		delay := tl.SafeDelay
		end = end.Add(max(delay, time.Hour))
		n := 0
		for _, k := range tl.Keys {
			if k.FirstPublished.IsZero() {
				continue // a live kid without state has no dates to draw
			}
			name, tag, to := k.KID, "", end
			switch {
			case k.Retired != nil:
				name, tag, to = name+" retired", "done, ", *k.Retired
			case k.RemovableFrom != nil && !tl.Now.Before(*k.RemovableFrom):
				name, tag = name+" removable since "+k.RemovableFrom.UTC().Format("01-02 15:04"), "done, "
			case k.KID == tl.SignWith:
				name, tag = name+" sign with", "active, "
			case tl.Now.Before(k.SafeFrom):
				name, tag = name+" safe from "+k.SafeFrom.UTC().Format("01-02 15:04"), "crit, "
			case k.Superseded != nil:
				name += " superseded"
				if k.RemovableFrom != nil {
					name += ", removable " + k.RemovableFrom.UTC().Format("01-02 15:04")
				}
			}
			if !to.After(k.FirstPublished) {
				to = k.FirstPublished.Add(time.Minute)
			}
			fmt.Fprintf(&b, "    %s:%st%dk%d, %s, %s\n", mermaidEscape(name), tag, ti, n,
				k.FirstPublished.UTC().Format(mermaidDateLayout), to.UTC().Format(mermaidDateLayout))
			n++
		}
		fmt.Fprintf(&b, "    now %s:milestone, t%dnow, %s, 0m\n", mermaidEscape(tl.Now.UTC().Format("01-02 15:04")), ti,
			tl.Now.UTC().Format(mermaidDateLayout))
	}
	b.WriteString("```\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidEscape writes every character outside a small safe set as a Mermaid entity (#58; for
// a colon): a kid may hold ':', '#' or ';', which end a task's name, start a comment or end a
// statement, and '<' or a backquote, which Mermaid's labels or the Markdown fence would read.
func mermaidEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ' && b.Len() > 0,
			r == '.', r == '-', r == '_', r == '/', r == ',', r == '(', r == ')', r == '*', r == '→':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	return b.String()
}

// WritePlanTimelinesMarkdown adds the rotation timeline to a CI summary beside the plan's
// table. With change (diff), the timelines of the changed targets before and after the plans,
// so a reviewer sees what the change does to the rotation; without (publish), the timelines
// now, after the plans were applied. Nothing when there is nothing to show.
func WritePlanTimelinesMarkdown(w io.Writer, plans []*publish.Plan, change bool) error {
	var before, after []*rotation.Timeline
	for _, p := range plans {
		if change && !p.Changed() {
			continue
		}
		b, a := p.Timelines()
		before, after = append(before, b), append(after, a)
	}
	if len(after) == 0 {
		return nil
	}
	if !change {
		if _, err := io.WriteString(w, "**Rotation timeline**\n\n"); err != nil {
			return err
		}
		return WriteTimelineMermaid(w, "rotation timeline", after)
	}
	if _, err := io.WriteString(w, "**Rotation timeline before this change**\n\n"); err != nil {
		return err
	}
	if err := WriteTimelineMermaid(w, "before", before); err != nil {
		return err
	}
	if _, err := io.WriteString(w, "**Rotation timeline after this change**\n\n"); err != nil {
		return err
	}
	return WriteTimelineMermaid(w, "after", after)
}
