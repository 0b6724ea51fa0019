package main

import (
	"fmt"

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
}

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
			pl, err := planAll(c.Context, g, e, "", e.clock())
			if err != nil {
				return err
			}
			defer pl.close()
			// The guard sees every plan before anything is written: one refusal stops all.
			gopts := publish.GuardOptions{AllowRemoval: c.StringSlice("allow-removal"), Force: c.Bool("force"), Actor: actorOf(c, e), Logger: g.logger}
			res, err := pl.runner.Publish(c.Context, pl.plans, gopts)
			if err != nil {
				_ = printPlans(e, g.format, pl.plans)
				return err
			}
			var results []publishResult
			current := 0
			for i, p := range pl.plans {
				r := publishResult{Set: p.Set, Target: p.Target, Outcome: "unchanged", Plan: p, Digest: p.Digest}
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
			fmt.Fprintf(e.stdout, "set %q -> %s: unchanged%s\n", r.Set, r.Target, digestNote(r.Digest))
		case "published":
			a, rm, ch := r.Plan.Count()
			fmt.Fprintf(e.stdout, "set %q -> %s: published (%d added, %d removed, %d changed)%s\n", r.Set, r.Target, a, rm, ch, digestNote(r.Digest))
		default:
			fmt.Fprintf(e.stdout, "set %q -> %s: STALE: %s\n", r.Set, r.Target, r.Error)
		}
	}
	return nil
}

// digestNote names an image's digest after a result line.
func digestNote(d string) string {
	if d == "" {
		return ""
	}
	return ", digest " + d
}
