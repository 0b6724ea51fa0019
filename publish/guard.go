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

// GuardViolation is one reason the guard refuses a plan, or one it let through.
type GuardViolation struct {
	Set    string `json:"set"`
	Target string `json:"target"`
	KID    string `json:"kid,omitempty"`
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
	// OverriddenBy names the override that let the violation through (OverrideForce or
	// OverrideAllowRemoval); empty for a refusal.
	OverriddenBy string `json:"overridden_by,omitempty"`
}

// Overrides of the rotation guard, as GuardViolation.OverriddenBy names them.
const (
	OverrideForce        = "force"
	OverrideAllowRemoval = "allow-removal"
)

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
	// Overridden lists what the overrides let through in the same judgement.
	Overridden []GuardViolation
}

func (e *GuardError) Error() string {
	return sources.Listed(fmt.Sprintf("refused by the rotation guard, nothing written: %d violation(s)", len(e.Violations)), e.Violations)
}

// Verdict is the rotation guard's judgement of a run's plans: what it refuses, and what the
// operator's overrides let through. Reports carry both, so a machine reading the output sees
// the same verdict a person reads on stderr.
type Verdict struct {
	// Refused lists every violation no override covers: when it is not empty, nothing may be
	// written to any target.
	Refused []GuardViolation
	// Overridden lists every violation --force or --allow-removal covered.
	Overridden []GuardViolation
}

// Err returns the verdict's refusal as a *GuardError, or nil when nothing is refused.
func (v Verdict) Err() error {
	if len(v.Refused) == 0 {
		return nil
	}
	return &GuardError{Violations: v.Refused, Overridden: v.Overridden}
}

// Refuses reports whether the verdict refuses something of the plan of set at target.
func (v Verdict) Refuses(set, target string) bool {
	for _, r := range v.Refused {
		if r.Set == set && r.Target == target {
			return true
		}
	}
	return false
}

// Judge checks every plan against the rotation rules (rotation.Check, which documents them)
// and returns the verdict: each violation either refused or overridden. AllowRemoval covers
// the timing and count rules for the kids it names; Force covers all but the empty set. It is
// pure apart from logging the overrides.
func Judge(plans []*Plan, o GuardOptions) Verdict {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var out Verdict
	for _, p := range plans {
		in := p.guardInput()
		// Judged three times: with no override (every rule broken), with --allow-removal alone,
		// and with both; a violation's fate is where it drops out.
		all, _ := rotation.Check(in, nil, false)
		afterAllow, _ := rotation.Check(in, o.AllowRemoval, false)
		refused, _ := rotation.Check(in, o.AllowRemoval, o.Force)
		for _, v := range all {
			gv := GuardViolation{Set: p.Set, Target: p.Target, KID: v.KID, Rule: v.Rule, Detail: v.Detail, Fix: v.Fix}
			if g, ok := p.gone[v.KID]; ok && v.KID != "" {
				// The key leaves because its source says it is gone, not because the
				// configuration dropped it: say so, and how to keep it until the rules allow.
				gv.Detail = "it leaves the set because " + g.detail + "; " + v.Detail
				gv.Fix = g.fix + "; or " + v.Fix
			}
			switch {
			case slices.Contains(refused, v):
				out.Refused = append(out.Refused, gv)
			case slices.Contains(afterAllow, v):
				gv.OverriddenBy = OverrideForce
				out.Overridden = append(out.Overridden, gv)
				log.Warn("rotation guard overridden by --force", "set", p.Set, "target", p.Target, "kid", v.KID, "rule", v.Rule, "detail", v.Detail)
			default:
				gv.OverriddenBy = OverrideAllowRemoval
				out.Overridden = append(out.Overridden, gv)
			}
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
	return out
}

// Guard is Judge for callers that need only the refusal: a *GuardError listing every
// violation no override covers, or nil.
func Guard(plans []*Plan, o GuardOptions) error {
	return Judge(plans, o).Err()
}

// guardInput is what the rotation rules judge of p.
func (p *Plan) guardInput() rotation.Input {
	return rotation.Input{Live: p.live, Next: p.next, Old: p.oldState, Now: p.now, SafeDelay: p.safeDelay, Rules: p.rotation}
}
