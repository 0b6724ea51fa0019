package main

import (
	"bytes"
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
		Flags: statusFlags(),
		Action: func(c *cli.Context) error {
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			now := e.clock()
			oo := g.openOptions(e)
			defer oo.buckets.close()
			var tls []*rotation.Timeline
			var pages []report.TimelinePage
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
						var hs []publish.LiveHeader
						if tl, hs, err = publish.ReadTimelineHeaders(c.Context, d, set, now); err == nil {
							tls = append(tls, tl)
							pages = append(pages, report.TimelinePage{Timeline: tl, Headers: hs})
							continue
						}
					}
					stale = append(stale, staleTarget{set: set.Name, target: tc.URL, err: err})
				}
			}
			var out bytes.Buffer
			switch g.format {
			case "json":
				err = report.WriteJSON(&out, report.NewStatusReport(now, tls, staleOf(stale)))
			case "html":
				err = report.WriteTimelineHTML(&out, now, pages, staleOf(stale))
			default:
				err = report.WriteTimelineText(&out, tls)
			}
			if err != nil {
				return err
			}
			// The report is written whole even when a target could not be read: it says which.
			if o := c.String("output"); o != "-" {
				if err := publish.WriteFileAtomic(o, out.Bytes(), 0o644); err != nil {
					return fmt.Errorf("status report: %w", err)
				}
			} else if _, err := e.stdout.Write(out.Bytes()); err != nil {
				return err
			}
			if len(stale) > 0 {
				return fmt.Errorf("could not read %d target(s):\n%s", len(stale), staleLines(stale))
			}
			return nil
		},
	}
}

// statusFlags are the set flags, with html among the formats, and where to write the report.
func statusFlags() []cli.Flag {
	fs := setFlags()
	for i, f := range fs {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "format" {
			c := *sf
			c.Usage = "output: text, json or html (one self-contained page with the timeline as a picture)"
			fs[i] = &c
		}
	}
	return append(fs, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-",
		Usage: "where to write the report (- for stdout)", EnvVars: []string{"JWKSPUB_STATUS_OUTPUT"}})
}
