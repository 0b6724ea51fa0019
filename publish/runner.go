package publish

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// Runner is what the command calls for diff and publish: it builds every set (one source or
// policy error stops everything: nothing is published after any error), plans each set at
// each of its targets in parallel, and publishes the plans that passed the guard. The command
// gives it the ways to reach the world, so this package opens no source and no target itself.
type Runner struct {
	// Sources returns the sources of a set.
	Sources func(set *config.SetConfig) ([]sources.Source, error)
	// Open opens one configured target of a set.
	Open func(ctx context.Context, tc config.TargetConfig, set *config.SetConfig) (Destination, error)
	// Identity names what a target URL writes to (a directory's file, a bucket's key, an
	// image's tag), or fails for a URL that cannot be a target: two sets at one identity would
	// overwrite each other's document and state.
	Identity func(url string) (string, error)
	// Logger goes to the builds and the guard; nil discards. Failed targets are not logged but
	// returned (Planned.Stale, Result.Err), for the caller to report once.
	Logger *slog.Logger
	// Version is recorded in each object's metadata.
	Version string
	// AllowRemoval lists the kids the operator lets go (--allow-removal), for PlanOptions.
	AllowRemoval []string
	// Parallel bounds the targets read or written at once; 0 means DefaultParallel.
	Parallel int
}

// DefaultParallel is enough to hide a store's latency for a thousand sets, few enough not to
// trip its rate limits.
const DefaultParallel = 16

// ConfigError is a configuration the Runner refuses before reading anything: a URL that cannot
// be a target, two sets at one target, a set without targets. The command exits 64 on it.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Stale is a target that could not be planned or written; the others go on.
type Stale struct {
	Set, Target string
	Err         error
}

// Planned is every set planned at each of its targets, in configuration order.
type Planned struct {
	Plans []*Plan
	Stale []Stale
	// Built holds each set as built from its sources, by name.
	Built map[string]*jwks.Set
}

// Build builds one set from its sources, for publication to targets (an optional source that
// is down keeps its live keys there).
func (r *Runner) Build(ctx context.Context, set *config.SetConfig, now time.Time) (*jwks.Set, error) {
	srcs, err := r.Sources(set)
	if err != nil {
		return nil, err
	}
	return Build(ctx, BuildOptions{Set: set, Sources: srcs, Now: now, Logger: r.Logger, KeepsLive: true})
}

// Plan checks the targets of every set, builds every set, then plans each at its targets.
// A target that cannot be opened or read is Stale and the others go on; results keep the
// configuration's order, so output and exit codes do not depend on timing.
func (r *Runner) Plan(ctx context.Context, sets []config.SetConfig, now time.Time) (*Planned, error) {
	seen := map[string]string{}
	for _, set := range sets {
		if len(set.Targets) == 0 {
			return nil, &ConfigError{fmt.Sprintf("set %q has no targets: add targets: to the configuration, or pass --target URL", set.Name)}
		}
		for _, tc := range set.Targets {
			id, err := r.Identity(tc.URL)
			if err != nil {
				return nil, &ConfigError{fmt.Sprintf("set %q: %v", set.Name, err)}
			}
			if other, ok := seen[id]; ok {
				return nil, &ConfigError{fmt.Sprintf("sets %q and %q both publish to %s: give each set its own target", other, set.Name, tc.URL)}
			}
			seen[id] = set.Name
		}
	}
	out := &Planned{Built: map[string]*jwks.Set{}}
	type job struct {
		tc   config.TargetConfig
		opts PlanOptions
		plan *Plan
		err  error
	}
	var jobs []job
	for i := range sets {
		set := &sets[i]
		built, err := r.Build(ctx, set, now)
		if err != nil {
			return nil, err
		}
		out.Built[set.Name] = built
		for _, tc := range set.Targets {
			jobs = append(jobs, job{tc: tc, opts: PlanOptions{Set: set, Keys: built, Now: now, Version: r.Version, AllowRemoval: r.AllowRemoval}})
		}
	}
	r.inParallel(len(jobs), func(i int) {
		j := &jobs[i]
		d, err := r.Open(ctx, j.tc, j.opts.Set)
		if err == nil {
			j.plan, err = PlanTarget(ctx, d, j.opts)
		}
		j.err = err
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.err != nil {
			// Not logged: the caller reports Stale once (a log line too printed every error twice).
			out.Stale = append(out.Stale, Stale{Set: j.opts.Set.Name, Target: j.tc.URL, Err: j.err})
			continue
		}
		out.Plans = append(out.Plans, j.plan)
	}
	return out, nil
}

// Result is what publishing one plan did.
type Result struct {
	// Plan is the plan applied: after a lost race, the re-plan.
	Plan *Plan
	// Written is true when something was written.
	Written bool
	// Err is why the target is stale.
	Err error
}

// Publish runs the guard over every plan at once and returns its verdict (one refusal stops
// every target: the verdict's *GuardError and nothing written), then writes the changed plans
// in parallel, each re-planned and re-guarded once if it lost a race. Results are in plan
// order.
func (r *Runner) Publish(ctx context.Context, plans []*Plan, g GuardOptions) ([]Result, Verdict, error) {
	if g.Logger == nil {
		g.Logger = r.Logger
	}
	v := Judge(plans, g)
	if err := v.Err(); err != nil {
		return nil, v, err
	}
	results := make([]Result, len(plans))
	r.inParallel(len(plans), func(i int) {
		p := plans[i]
		results[i].Plan = p
		if !p.Changed() {
			return
		}
		applied, err := Publish(ctx, p, PublishOptions{Guard: g})
		if err != nil {
			results[i].Err = err // reported once by the caller, not logged here too
			return
		}
		results[i].Plan, results[i].Written = applied, applied.Changed()
	})
	return results, v, nil
}

// inParallel calls f(0..n-1) with at most Parallel calls running, and returns when all have
// returned. Each f writes only its own index's result.
func (r *Runner) inParallel(n int, f func(i int)) {
	limit := r.Parallel
	if limit <= 0 {
		limit = DefaultParallel
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}
