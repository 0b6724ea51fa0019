package publish

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// Guard rule names, as they appear in refusals.
const (
	RuleEmptySet      = "empty-set"
	RuleNoSharedKey   = "no-shared-key"
	RuleKIDReused     = "kid-reused"
	RuleAlgChanged    = "alg-changed"
	RuleTooManyRemove = "max-removed"
	RuleNoLifetime    = "no-max-token-lifetime"
	RuleNoSuccessor   = "no-successor"
	RuleTooEarly      = "removal-too-early"
)

// SafeDelay is how long after a document is written every verifier may still hold the
// previous one: the longer of max-age and s-maxage, plus stale-while-revalidate, plus the
// configured cdn_ttl. A key is safe to sign with once it has been published this long. The
// Cache-Control value may be a live document's, written by anyone: a value too large to
// represent counts as 2^31 seconds (RFC 9111 §1.2.2) and the sum saturates, so a huge value
// gives a long delay, never a short or negative one.
func SafeDelay(r Rotation, cacheControl string) time.Duration {
	l := parseCacheLifetimes(cacheControl)
	return addDelays(max(l.maxAge, l.sMaxAge), l.staleWhileRevalidate, time.Duration(r.CDNTTL))
}

// maxRemoved is the configured max_removed, 1 when unset.
func (r Rotation) maxRemoved() int {
	if r.MaxRemoved == nil {
		return 1
	}
	return *r.MaxRemoved
}

// GuardOptions are the operator's overrides of the rotation guard; both are logged.
type GuardOptions struct {
	// AllowRemoval lists kids that may be removed although the timing or count rules say no:
	// the operator asserts no valid token was signed by them.
	AllowRemoval []string
	// Force overrides every rule but the empty set.
	Force  bool
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

// Guard checks every plan against the rotation rules and returns a *GuardError listing every
// violation no override covers, or nil. It is pure apart from logging overrides. The rules:
//
//   - the new set is empty, or shares no key (by thumbprint) with a non-empty live set;
//   - a live kid would get different key material, or a different alg;
//   - more than max_removed kids would be removed at once (default 1);
//   - a kid would be removed before superseded + safe delay + max_token_lifetime: its
//     successor must have been published and cached, and every token it signed expired.
//     Without max_token_lifetime, or without a recorded successor, every removal needs
//     --allow-removal.
//
// AllowRemoval covers the last two rules for the kids it names (max_removed only when every
// removed kid is named); Force covers all but the empty set.
func Guard(plans []*Plan, o GuardOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var out []GuardViolation
	for _, p := range plans {
		for _, v := range checkPlan(p, o.AllowRemoval) {
			switch {
			case v.Rule == RuleEmptySet:
				out = append(out, v)
			case o.Force:
				log.Warn("rotation guard overridden by --force", "set", v.Set, "target", v.Target, "kid", v.KID, "rule", v.Rule, "detail", v.Detail)
			default:
				out = append(out, v)
			}
		}
	}
	for _, kid := range o.AllowRemoval {
		removed := false
		for _, p := range plans {
			for _, k := range p.Keys {
				removed = removed || k.KID == kid && k.Action == ActionRemove
			}
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

func checkPlan(p *Plan, allow []string) []GuardViolation {
	var out []GuardViolation
	add := func(kid, rule, detail, fix string) {
		out = append(out, GuardViolation{Set: p.Set, Target: p.Target, KID: kid, Rule: rule, Detail: detail, Fix: fix})
	}
	if len(p.next) == 0 {
		add("", RuleEmptySet, "the new set has no keys; publishing it would break every verifier", "fix the sources; an empty JWKS is never published")
		return out
	}
	if len(p.live) > 0 {
		shared := false
		for _, l := range p.live {
			for _, n := range p.next {
				shared = shared || l.Thumbprint == n.Thumbprint
			}
		}
		if !shared {
			add("", RuleNoSharedKey, fmt.Sprintf("the new set shares no key with the %d live key(s): every token signed today would fail", len(p.live)),
				"publish the new keys beside the live ones first, then remove the old ones in later runs; pass --force only if every outstanding token may break")
		}
	}
	var removed, unallowed []string
	for _, k := range p.Keys {
		switch k.Action {
		case ActionChange:
			if slices.Contains(k.Changes, "material") {
				add(k.KID, RuleKIDReused, "the live kid would name different key material; verifiers that cached it would reject new tokens and accept none of the old key's",
					"give the new key a new kid (publish it beside the old one), or pass --force")
			}
			if slices.Contains(k.Changes, "alg") {
				add(k.KID, RuleAlgChanged, fmt.Sprintf("alg would change from %s to %s on a live kid; tokens signed under the old alg would be rejected", k.OldAlg, k.Alg),
					"publish the key under a new kid with the new alg, or pass --force")
			}
		case ActionRemove:
			removed = append(removed, k.KID)
			if !slices.Contains(allow, k.KID) {
				unallowed = append(unallowed, k.KID)
			}
		}
	}
	if n := p.rotation.maxRemoved(); len(removed) > n && len(unallowed) > 0 {
		add("", RuleTooManyRemove, fmt.Sprintf("%d keys would be removed at once (%s), max_removed is %d", len(removed), strings.Join(removed, ", "), n),
			"remove keys over several publications, raise rotation.max_removed, or name each with --allow-removal")
	}
	for _, kid := range unallowed {
		mtl := time.Duration(p.rotation.MaxTokenLifetime)
		sk := p.oldState.Key(kid)
		switch {
		case mtl <= 0:
			add(kid, RuleNoLifetime, "removal needs rotation.max_token_lifetime to know when tokens signed by the key have expired",
				"set rotation.max_token_lifetime, or pass --allow-removal "+kid+" once no valid token is signed by it")
		case sk == nil || sk.Superseded == nil:
			add(kid, RuleNoSuccessor, "no newer key from the same source was ever published, so nothing shows signers stopped using it",
				"publish its successor first and wait, or pass --allow-removal "+kid+" if it signs nothing")
		default:
			from := sk.Superseded.Add(addDelays(p.safeDelay, mtl))
			if p.now.Before(from) {
				add(kid, RuleTooEarly, fmt.Sprintf("removable from %s (superseded %s + safe delay %s + max_token_lifetime %s); it is %s",
					from.UTC().Format(time.RFC3339), sk.Superseded.UTC().Format(time.RFC3339), p.safeDelay, mtl, p.now.UTC().Format(time.RFC3339)),
					"keep it in the sources until then, or pass --allow-removal "+kid+" if no token signed by it is still valid")
			}
		}
	}
	return out
}
