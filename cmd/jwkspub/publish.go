package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
)

// publishResult is one target's outcome.
type publishResult struct {
	Set     string `json:"set"`
	Target  string `json:"target"`
	Outcome string `json:"outcome"` // unchanged, published or stale
	// Digest is, for an oci:// target, the image digest the tag names: the pushed one, or
	// the live one when unchanged.
	Digest string        `json:"digest,omitempty"`
	Error  string        `json:"error,omitempty"`
	Plan   *publish.Plan `json:"plan,omitempty"`

	raced bool // the first write lost a race, and the target was re-planned
}

func publishCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "plan, rotation guard, write to every target, read back",
		Flags: append(append(commonFlags(), planFlags()...),
			&cli.BoolFlag{Name: "dry-run", Usage: "plan and run the guard only, like diff; writes nothing", EnvVars: []string{"JWKSPUB_DRY_RUN"}},
		),
		Action: func(c *cli.Context) error {
			if c.Bool("dry-run") {
				return runPlan(c, e, false)
			}
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			pl, err := planAll(c.Context, g, e, "", e.clock())
			if err != nil {
				return err
			}
			defer pl.close()
			// The guard sees every plan before anything is written: one refusal stops all.
			gopts := publish.GuardOptions{AllowRemoval: c.StringSlice("allow-removal"), Force: c.Bool("force"), Logger: g.logger}
			res, err := pl.runner.Publish(c.Context, pl.plans, gopts)
			if err != nil {
				_ = printPlans(e, g.format, pl.plans)
				return err
			}
			var results []publishResult
			current := 0
			for i, p := range pl.plans {
				r := publishResult{Set: p.Set, Target: p.Target, Outcome: "unchanged", Plan: p, Digest: p.Digest, raced: res[i].Plan != nil && res[i].Plan != p}
				if err := res[i].Err; err != nil {
					pl.stale = append(pl.stale, staleTarget{set: p.Set, target: p.Target, err: err})
					continue
				}
				if res[i].Written {
					r.Plan, r.Digest = res[i].Plan, res[i].Plan.Digest
					r.Outcome = "published"
					attrs := []any{"set", p.Set, "target", p.Target}
					if r.Digest != "" { // targets with a content digest (images)
						attrs = append(attrs, "digest", r.Digest)
					}
					g.logger.Info("published", attrs...)
				}
				current++
				results = append(results, r)
			}
			for _, s := range pl.stale {
				results = append(results, publishResult{Set: s.set, Target: s.target, Outcome: "stale", Error: s.err.Error()})
			}
			if err := printResults(e, g.format, results); err != nil {
				return err
			}
			if err := appendSummary(c.String("step-summary"), "jwkspub publish", pl.plans, pl.stale); err != nil {
				return err
			}
			if len(pl.stale) > 0 {
				return staleError(pl.stale, current)
			}
			return nil
		},
	}
}

func printResults(e env, format string, results []publishResult) error {
	if format == "json" {
		if results == nil {
			results = []publishResult{}
		}
		return writeJSON(e.stdout, map[string]any{"results": results})
	}
	for _, r := range results {
		switch r.Outcome {
		case "unchanged":
			note := ""
			if r.raced {
				note = ": another publisher wrote this same document first (lost the race); nothing was written by this run"
			}
			fmt.Fprintf(e.stdout, "set %q -> %s: unchanged%s%s\n", r.Set, r.Target, note, digestNote(r.Digest))
		case "published":
			fmt.Fprintf(e.stdout, "set %q -> %s: %s%s\n", r.Set, r.Target, publishedLine(r), digestNote(r.Digest))
		default:
			// The error itself is printed once, on stderr, with the run's outcome.
			fmt.Fprintf(e.stdout, "set %q -> %s: STALE: nothing written (the error is on stderr)\n", r.Set, r.Target)
		}
	}
	return nil
}

// publishedLine says what a run that wrote something changed: the key counts, or, when no key
// changed, which objects it wrote, and whether it wrote after losing a race.
func publishedLine(r publishResult) string {
	a, rm, ch := r.Plan.Count()
	what := "published"
	if r.raced {
		what = "published after losing a race to another publisher"
	}
	if a+rm+ch > 0 {
		return fmt.Sprintf("%s (%d added, %d removed, %d changed)", what, a, rm, ch)
	}
	var objs []string
	for _, o := range r.Plan.Objects {
		objs = append(objs, o.Key)
	}
	return fmt.Sprintf("%s: no key changed; this run wrote only %s", what, strings.Join(objs, ", "))
}

// digestNote names an image's digest after a result line.
func digestNote(d string) string {
	if d == "" {
		return ""
	}
	return ", digest " + d
}
