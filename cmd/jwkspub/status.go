package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

func statusCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "per kid: first published, safe to sign with from, superseded, removable from",
		Flags: setFlags(),
		Action: func(c *cli.Context) error {
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			now := e.clock()
			oo := g.openOptions(e)
			defer oo.buckets.close()
			var tls []*rotation.Timeline
			var stale []staleTarget
			// status reads only the live document and state: the sources are not consulted.
			for i := range g.cfg.Sets {
				set := &g.cfg.Sets[i]
				for _, tc := range set.Targets {
					if _, err := checkTarget(tc.URL); err != nil {
						return usagef("set %q: %v", set.Name, err)
					}
					d, err := openTarget(c.Context, oo, tc, set)
					if err == nil {
						var tl *rotation.Timeline
						if tl, err = publish.ReadTimeline(c.Context, d, set, now); err == nil {
							tls = append(tls, tl)
							continue
						}
					}
					stale = append(stale, staleTarget{set: set.Name, target: tc.URL, err: err})
				}
			}
			if g.format == "json" {
				if err := report.WriteJSON(e.stdout, report.NewStatusReport(now, tls, staleOf(stale))); err != nil {
					return err
				}
			} else if err := report.WriteTimelineText(e.stdout, tls); err != nil {
				return err
			}
			if len(stale) > 0 {
				return fmt.Errorf("could not read %d target(s):\n%s", len(stale), staleLines(stale))
			}
			return nil
		},
	}
}
