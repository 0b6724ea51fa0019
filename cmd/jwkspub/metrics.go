package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/report"
)

// runRecord collects what a diff or publish run built and planned, for --metrics-file. It
// travels in the run's context: it belongs to one invocation, never to the process.
type runRecord struct {
	built   map[string]*jwks.Set // set name → the keys assembled from its sources
	planned *planned
}

type runRecordKey struct{}

// recordOf returns the run's record, nil when no metrics file was asked for.
func recordOf(ctx context.Context) *runRecord {
	r, _ := ctx.Value(runRecordKey{}).(*runRecord)
	return r
}

// withMetrics adds --metrics-file to a command and writes the file after every run, whatever
// its outcome: a failing cron job is what monitoring exists to see.
func withMetrics(cmd *cli.Command, e env) *cli.Command {
	cmd.Flags = append(cmd.Flags, &cli.StringFlag{
		Name:    "metrics-file",
		Usage:   "write Prometheus metrics of this run to `PATH` (atomically; for node_exporter's textfile collector)",
		EnvVars: []string{"JWKSPUB_METRICS_FILE"},
	})
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		path := c.String("metrics-file")
		if path == "" {
			return action(c)
		}
		rec := &runRecord{built: map[string]*jwks.Set{}}
		c.Context = context.WithValue(c.Context, runRecordKey{}, rec)
		err := action(c)
		publishing := c.Command.Name == "publish" && !c.Bool("dry-run")
		m := runMetrics(rec, exitCode(err), publishing, e.clock())
		if merr := report.WriteMetricsFile(path, m); merr != nil {
			if err == nil {
				return fmt.Errorf("metrics file: %w", merr)
			}
			// The run's own error decides the exit code; this one is still worth seeing.
			e.diag.say(slog.LevelError, fmt.Sprintf("metrics file: %v", merr))
		}
		return err
	}
	return cmd
}

// runMetrics turns a finished run into metrics: its result from the exit code, its sets'
// keys, and each kid's first publication from the state at its targets (the state publish
// wrote when it wrote one).
func runMetrics(rec *runRecord, code int, publishing bool, now time.Time) report.Metrics {
	m := report.Metrics{Time: now}
	var plans []*publish.Plan
	stale := map[string]bool{}
	if rec.planned != nil {
		plans = rec.planned.plans
		for _, s := range rec.planned.stale {
			stale[s.set+"\x00"+s.target] = true
		}
	}
	changed := false
	for _, p := range plans {
		changed = changed || p.Changed()
	}
	switch code {
	case exitOK:
		m.Result = report.ResultUnchanged
		if changed {
			m.Result = report.ResultChanged
		}
	case exitChanges:
		m.Result = report.ResultChanged
	case exitRefused:
		m.Result = report.ResultRefused
	case exitPartial:
		m.Result = report.ResultPartial
	default:
		m.Result = report.ResultFailed
	}
	applied := publishing && (code == exitOK || code == exitPartial)
	for name, set := range rec.built {
		ms := report.MetricsSet{Name: name, Keys: set.Keys, FirstPublished: map[string]time.Time{}}
		for _, p := range plans {
			if p.Set != name {
				continue
			}
			// A kid published at several targets counts from its earliest publication.
			for kid, t := range p.FirstPublished(applied && p.Changed() && !stale[p.Set+"\x00"+p.Target]) {
				if old, ok := ms.FirstPublished[kid]; !ok || t.Before(old) {
					ms.FirstPublished[kid] = t
				}
			}
		}
		m.Sets = append(m.Sets, ms)
	}
	return m
}
