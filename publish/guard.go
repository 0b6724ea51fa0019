package publish

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
)

// GuardOptions are the operator's overrides of the rotation guard; both are logged.
type GuardOptions struct {
	// AllowRemoval lists kids that may be removed although the timing or count rules say no:
	// the operator asserts no valid token was signed by them.
	AllowRemoval []string
	// Force overrides every rule but the empty set.
	Force bool
	// Actor names who overrides (the CI actor, the local user): the state records it on each
	// kid whose removal only AllowRemoval or Force let through.
	Actor  string
	Logger *slog.Logger
}

// GuardViolation is one reason the guard refuses a plan.
type GuardViolation struct {
	Set    string `json:"set"`
	Target string `json:"target"`
	KID    string `json:"kid,omitempty"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func (v GuardViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "set %q, target %s: ", v.Set, v.Target)
	if v.KID != "" {
		fmt.Fprintf(&b, "kid %q: ", v.KID)
	}
	fmt.Fprintf(&b, "%s: %s (fix: %s)", v.Rule, v.Detail, v.Fix)
	return b.String()
}

// GuardError is the rotation guard's refusal: every violation over every plan. Nothing may be
// written when it is returned.
type GuardError struct {
	Violations []GuardViolation
}

func (e *GuardError) Error() string {
	return sources.Listed(fmt.Sprintf("refused by the rotation guard, nothing written: %d violation(s)", len(e.Violations)), e.Violations)
}

// Guard checks every plan against the rotation rules (rotation.Check, which documents them)
// and returns a *GuardError listing every violation no override covers, or nil. It is pure
// apart from logging overrides: AllowRemoval covers the timing and count rules for the kids it
// names; Force covers all but the empty set.
func Guard(plans []*Plan, o GuardOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var out []GuardViolation
	for _, p := range plans {
		refused, overridden := rotation.Check(p.guardInput(), o.AllowRemoval, o.Force)
		for _, v := range overridden {
			log.Warn("rotation guard overridden by --force", "set", p.Set, "target", p.Target, "kid", v.KID, "rule", v.Rule, "detail", v.Detail)
		}
		for _, v := range refused {
			out = append(out, GuardViolation{Set: p.Set, Target: p.Target, KID: v.KID, Rule: v.Rule, Detail: v.Detail, Fix: v.Fix})
		}
	}
	for _, kid := range o.AllowRemoval {
		removed := false
		for _, p := range plans {
			removed = removed || slices.Contains(rotation.Removed(p.guardInput()), kid)
		}
		if removed {
			log.Warn("rotation guard: removal allowed by --allow-removal", "kid", kid)
		} else {
			log.Warn("--allow-removal names a kid no plan removes", "kid", kid)
		}
	}
	if len(out) > 0 {
		return &GuardError{Violations: out}
	}
	return nil
}

// guardInput is what the rotation rules judge of p.
func (p *Plan) guardInput() rotation.Input {
	return rotation.Input{Live: p.live, Next: p.next, Old: p.oldState, Now: p.now, SafeDelay: p.safeDelay, Rules: p.rotation}
}
