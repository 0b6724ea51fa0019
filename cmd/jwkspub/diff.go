package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/served"
)

// planFlags are shared by diff and publish.
func planFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "step-summary", Usage: "append a Markdown summary to `FILE` (GitHub Actions sets $GITHUB_STEP_SUMMARY)", EnvVars: []string{"JWKSPUB_STEP_SUMMARY", "GITHUB_STEP_SUMMARY"}},
	}, guardFlags()...)
}

// guardFlags are the operator's overrides of the rotation guard, for every command it judges.
func guardFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "allow-removal", Usage: "let the rotation guard remove `KID` although its timing or the removal count says no (repeatable; logged)", EnvVars: []string{"JWKSPUB_ALLOW_REMOVAL"}},
		&cli.BoolFlag{Name: "force", Usage: "override every rotation guard rule but the empty set (logged)", EnvVars: []string{"JWKSPUB_FORCE"}},
	}
}

func diffCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "show what publish would change at each target; writes nothing",
		Flags: append(append(commonFlags(), planFlags()...),
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 when nothing would change, 2 when something would", EnvVars: []string{"JWKSPUB_DETAILED_EXITCODE"}},
			&cli.StringFlag{Name: "against", Usage: "compare with the document served at `URL` (https; http only on loopback) instead of the targets", EnvVars: []string{"JWKSPUB_AGAINST"}},
		),
		Action: func(c *cli.Context) error {
			return runPlan(c, e, true)
		},
	}
}

// runPlan is diff, and publish --dry-run: plan every target, print the plan, run the guard,
// write nothing. A guard refusal exits 3, so a dry run in CI fails where publish would.
func runPlan(c *cli.Context, e env, detailed bool) error {
	g, err := readGlobals(c, e)
	if err != nil {
		return err
	}
	against := ""
	if c.Command.Name == "diff" {
		against = c.String("against")
		if against != "" {
			if err := served.CheckPublicURL(against); err != nil {
				return usagef("--against: %v", err)
			}
		}
	}
	now := e.clock()
	pl, err := planAll(c.Context, g, e, against, now, c.StringSlice("allow-removal"))
	if err != nil {
		return err
	}
	defer pl.close()
	// The verdict is judged before anything is printed, so the JSON carries it; against a URL
	// there is no state to judge by.
	var verdict publish.Verdict
	if against == "" {
		verdict = publish.Judge(pl.plans, publish.GuardOptions{AllowRemoval: c.StringSlice("allow-removal"), Force: c.Bool("force"), Logger: g.logger})
	}
	if g.format == "json" {
		if err := report.WriteJSON(e.stdout, report.NewPlanReport(pl.plans, verdict, pl.staleList())); err != nil {
			return err
		}
	} else if err := report.WritePlanText(e.stdout, pl.plans); err != nil {
		return err
	}
	if err := appendSummary(c.String("step-summary"), "jwkspub diff", true, pl.plans, verdict, pl.stale); err != nil {
		return err
	}
	// A refusal decides the exit code over stale targets, as in publish: one verdict, one code.
	if gerr := verdict.Err(); gerr != nil {
		if len(pl.stale) > 0 {
			return &codeError{code: exitRefused, err: errors.Join(gerr, staleError(pl.stale, 0))}
		}
		return gerr
	}
	if len(pl.stale) > 0 {
		return staleError(pl.stale, 0)
	}
	if detailed && c.Bool("detailed-exitcode") {
		for _, p := range pl.plans {
			if p.Changed() {
				return &codeError{code: exitChanges}
			}
		}
	}
	return nil
}
