package publish

import (
	"github.com/jwkspub/jwkspub/publish/target"

	"context"
	"errors"
	"fmt"
)

// PublishOptions configure Publish.
type PublishOptions struct {
	// Guard is re-checked against the new plan when a write loses a race.
	Guard GuardOptions
	// BeforeWrite, when set, runs after a plan has passed the guard and before its first
	// write, with the attempt number (1, then 2 after a lost race). Tests make a competing
	// write land there, between the read and the write.
	BeforeWrite func(p *Plan, attempt int)
}

// Publish applies p, a plan that passed the guard, and returns the plan that was applied.
// Every write is conditional on the revision the plan was made from. When one loses a race
// (another publisher changed the target after it was read), Publish re-reads the target,
// re-plans, re-checks the guard and applies once more: a lost update is never possible, and a
// second loss fails with ErrConflict, as does a guard refusal of the new plan (*GuardError).
func Publish(ctx context.Context, p *Plan, o PublishOptions) (*Plan, error) {
	for attempt := 1; ; attempt++ {
		if err := p.recordOverrides(o.Guard); err != nil {
			return nil, err
		}
		if o.BeforeWrite != nil {
			o.BeforeWrite(p, attempt)
		}
		err := Apply(ctx, p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, target.ErrConflict) {
			return nil, err
		}
		if attempt == 2 {
			return nil, fmt.Errorf("set %q: lost a second race at the target, giving up (run publish again): %w", p.Set, err)
		}
		log := o.Guard.Logger
		if log != nil {
			log.Warn("target changed while publishing; re-reading and re-planning", "set", p.Set, "target", p.Target, "err", err)
		}
		next, err := PlanTarget(ctx, p.dest, p.opts)
		if err != nil {
			return nil, fmt.Errorf("re-planning after a lost race: %w", err)
		}
		if err := Guard([]*Plan{next}, o.Guard); err != nil {
			return nil, err
		}
		if !next.Changed() {
			return next, nil // the competing write already published this
		}
		p = next
	}
}
