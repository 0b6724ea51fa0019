package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/report"
)

func publishCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "publish",
		Usage: "plan, rotation guard, write to every target, read back",
		Flags: append(append(commonFlags(), planFlags()...),
			&cli.BoolFlag{Name: "dry-run", Usage: "plan and run the guard only, like diff; writes nothing", EnvVars: []string{"JWKSPUB_DRY_RUN"}},
			actorFlag(),
		),
		Action: func(c *cli.Context) error {
			if c.Bool("dry-run") {
				return runPlan(c, e, false)
			}
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			pl, err := planAll(c.Context, g, e, "", e.clock(), c.StringSlice("allow-removal"))
			if err != nil {
				return err
			}
			defer pl.close()
			// The guard sees every plan before anything is written: one refusal stops all.
			gopts := publish.GuardOptions{AllowRemoval: c.StringSlice("allow-removal"), Force: c.Bool("force"), Actor: actorOf(c, e), Logger: g.logger}
			res, verdict, err := pl.runner.Publish(c.Context, pl.plans, gopts)
			var ge *publish.GuardError
			if errors.As(err, &ge) {
				// Refused, nothing written: the plans and the verdict, in JSON too.
				if g.format == "json" {
					_ = report.WriteJSON(e.stdout, report.NewPublishReport(pl.plans, verdict, pl.staleList(), nil))
				} else {
					_ = report.WritePlanText(e.stdout, pl.plans)
				}
				if serr := appendSummary(c.String("step-summary"), "jwkspub publish", false, pl.plans, verdict, pl.stale); serr != nil {
					g.logger.Error("could not write the step summary", "err", serr)
				}
				return err
			}
			if err != nil {
				return err
			}
			var results []report.PublishResult
			current := 0
			for i, p := range pl.plans {
				r := report.PublishResult{Set: p.Set, Target: p.Target, Outcome: report.OutcomeUnchanged, Plan: p, Digest: p.Digest, Raced: res[i].Plan != nil && res[i].Plan != p}
				if err := res[i].Err; err != nil {
					pl.stale = append(pl.stale, staleTarget{set: p.Set, target: p.Target, err: err})
					continue
				}
				if res[i].Written {
					r.Plan, r.Digest = res[i].Plan, res[i].Plan.Digest
					r.Outcome = report.OutcomePublished
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
				results = append(results, report.PublishResult{Set: s.set, Target: s.target, Outcome: report.OutcomeStale, Error: s.err.Error()})
			}
			if g.format == "json" {
				// The plans applied: after a lost race, the re-plan.
				applied := make([]*publish.Plan, len(pl.plans))
				for i, p := range pl.plans {
					applied[i] = p
					if res[i].Plan != nil {
						applied[i] = res[i].Plan
					}
				}
				if err := report.WriteJSON(e.stdout, report.NewPublishReport(applied, verdict, pl.staleList(), results)); err != nil {
					return err
				}
			} else {
				printResults(e, results)
			}
			if err := appendSummary(c.String("step-summary"), "jwkspub publish", false, pl.plans, verdict, pl.stale); err != nil {
				return err
			}
			if len(pl.stale) > 0 {
				return staleError(pl.stale, current)
			}
			return nil
		},
	}
}

func printResults(e env, results []report.PublishResult) {
	for _, r := range results {
		switch r.Outcome {
		case report.OutcomeUnchanged:
			note := ""
			if r.Raced {
				note = ": another publisher wrote this same document first (lost the race); nothing was written by this run"
			}
			fmt.Fprintf(e.stdout, "set %q -> %s: unchanged%s%s\n", r.Set, r.Target, note, digestNote(r.Digest))
		case report.OutcomePublished:
			fmt.Fprintf(e.stdout, "set %q -> %s: %s%s\n", r.Set, r.Target, publishedLine(r), digestNote(r.Digest))
		default:
			// The error itself is printed once, on stderr, with the run's outcome.
			fmt.Fprintf(e.stdout, "set %q -> %s: STALE: nothing written (the error is on stderr)\n", r.Set, r.Target)
		}
	}
}

// publishedLine says what a run that wrote something changed: the key counts, or, when no key
// changed, which objects it wrote, and whether it wrote after losing a race.
func publishedLine(r report.PublishResult) string {
	a, rm, ch := r.Plan.Count()
	what := "published"
	if r.Raced {
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
