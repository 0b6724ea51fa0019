package rotation

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
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
func SafeDelay(r Rules, cacheControl string) time.Duration {
	l := parseCacheLifetimes(cacheControl)
	return addDelays(max(l.maxAge, l.sMaxAge), l.staleWhileRevalidate, time.Duration(r.CDNTTL))
}

// maxRemoved is the configured max_removed, 1 when unset.
func (r Rules) maxRemoved() int {
	if r.MaxRemoved == nil {
		return 1
	}
	return *r.MaxRemoved
}

// Input is what the rotation rules judge for one set at one target: the identities of the keys
// live there and of the keys that would be published, the target's state before the
// publication, the time, and the set's rules. Nothing else: the rules read no document, no
// target and no clock of their own.
type Input struct {
	// Live and Next are the live and the new document's keys, as jwks.ParseLive and
	// jwks.LiveKeys give them.
	Live, Next []jwks.LiveKey
	// Old is the state object before the publication; nil when there is none.
	Old *State
	// Now is the time of the publication.
	Now time.Time
	// SafeDelay is how long verifiers may keep the previous document: the longer of
	// SafeDelay over the new and the live document's Cache-Control.
	SafeDelay time.Duration
	Rules     Rules
}

// Violation is one rule the input breaks: the kid it concerns (empty for the set as a whole),
// the rule's name, what is wrong and how to fix it.
type Violation struct {
	KID    string
	Rule   string
	Detail string
	Fix    string
}

// Check applies the rotation rules to in. The rules:
//
//   - the new set is empty, or shares no key (by thumbprint) with a non-empty live set;
//   - a live kid would get different key material, or a different alg;
//   - more than max_removed kids would be removed at once (default 1);
//   - a kid would be removed before superseded + safe delay + max_token_lifetime: its
//     successor must have been published and cached, and every token it signed expired.
//     Without max_token_lifetime, or without a recorded successor, every removal needs
//     --allow-removal.
//
// allow (--allow-removal) covers the last two rules for the kids it names (max_removed only
// when every removed kid is named). force (--force) covers every rule but the empty set: what
// it covers is returned as overridden, for the caller to log, and refused holds the rest.
func Check(in Input, allow []string, force bool) (refused, overridden []Violation) {
	for _, v := range check(in, allow) {
		if force && v.Rule != RuleEmptySet {
			overridden = append(overridden, v)
		} else {
			refused = append(refused, v)
		}
	}
	return refused, overridden
}

// Removed lists the live kids the new set leaves out, sorted.
func Removed(in Input) []string {
	next := make(map[string]bool, len(in.Next))
	for _, k := range in.Next {
		next[k.KID] = true
	}
	var out []string
	for _, l := range in.Live {
		if !next[l.KID] {
			out = append(out, l.KID)
		}
	}
	slices.Sort(out)
	return out
}

func check(in Input, allow []string) []Violation {
	var out []Violation
	add := func(kid, rule, detail, fix string) {
		out = append(out, Violation{KID: kid, Rule: rule, Detail: detail, Fix: fix})
	}
	if len(in.Next) == 0 {
		add("", RuleEmptySet, "the new set has no keys; publishing it would break every verifier", "fix the sources; an empty JWKS is never published")
		return out
	}
	if len(in.Live) > 0 {
		shared := false
		for _, l := range in.Live {
			for _, n := range in.Next {
				shared = shared || l.Thumbprint == n.Thumbprint
			}
		}
		if !shared {
			add("", RuleNoSharedKey, fmt.Sprintf("the new set shares no key with the %d live key(s): every token signed today would fail", len(in.Live)),
				"publish the new keys beside the live ones first, then remove the old ones in later runs; pass --force only if every outstanding token may break")
		}
	}
	live := make(map[string]jwks.LiveKey, len(in.Live))
	for _, l := range in.Live {
		live[l.KID] = l
	}
	next := slices.Clone(in.Next)
	slices.SortFunc(next, func(a, b jwks.LiveKey) int { return strings.Compare(a.KID, b.KID) })
	for _, n := range next {
		l, ok := live[n.KID]
		if !ok {
			continue
		}
		if l.Thumbprint != n.Thumbprint {
			add(n.KID, RuleKIDReused, "the live kid would name different key material; verifiers that cached it would reject new tokens and accept none of the old key's",
				"give the new key a new kid (publish it beside the old one), or pass --force")
		}
		if l.Alg != n.Alg {
			add(n.KID, RuleAlgChanged, fmt.Sprintf("alg would change from %s to %s on a live kid; tokens signed under the old alg would be rejected", l.Alg, n.Alg),
				"publish the key under a new kid with the new alg, or pass --force")
		}
	}
	removed := Removed(in)
	var unallowed []string
	for _, kid := range removed {
		if !slices.Contains(allow, kid) {
			unallowed = append(unallowed, kid)
		}
	}
	if n := in.Rules.maxRemoved(); len(removed) > n && len(unallowed) > 0 {
		add("", RuleTooManyRemove, fmt.Sprintf("%d keys would be removed at once (%s), max_removed is %d", len(removed), strings.Join(removed, ", "), n),
			"remove keys over several publications, raise rotation.max_removed, or name each with --allow-removal")
	}
	for _, kid := range unallowed {
		mtl := time.Duration(in.Rules.MaxTokenLifetime)
		sk := in.Old.Key(kid)
		switch {
		case mtl <= 0:
			add(kid, RuleNoLifetime, "removal needs rotation.max_token_lifetime to know when tokens signed by the key have expired",
				"set rotation.max_token_lifetime, or pass --allow-removal "+kid+" once no valid token is signed by it")
		case sk == nil || sk.Superseded == nil:
			add(kid, RuleNoSuccessor, "no newer key from the same source was ever published, so nothing shows signers stopped using it",
				"publish its successor first and wait, or pass --allow-removal "+kid+" if it signs nothing")
		default:
			from := sk.Superseded.Add(addDelays(in.SafeDelay, mtl))
			if in.Now.Before(from) {
				add(kid, RuleTooEarly, fmt.Sprintf("removable from %s (superseded %s + safe delay %s + max_token_lifetime %s); it is %s",
					from.UTC().Format(time.RFC3339), sk.Superseded.UTC().Format(time.RFC3339), in.SafeDelay, mtl, in.Now.UTC().Format(time.RFC3339)),
					"keep it in the sources until then, or pass --allow-removal "+kid+" if no token signed by it is still valid")
			}
		}
	}
	return out
}
