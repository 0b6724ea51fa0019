package rotation

import (
	"slices"
	"time"
)

// OverriddenRemovals lists, sorted, the kids that in removes only because the operator
// overrode the guard: removals the rules refuse without allow and force (a timing or count
// rule, or a new set sharing no key with the live one) that allow names or force covers. A
// removal the rules permit on their own is not listed: no one's decision let it through.
// It assumes Check(in, allow, force) refused nothing.
func OverriddenRemovals(in Input, allow []string, force bool) []string {
	removed := Removed(in)
	if len(removed) == 0 {
		return nil
	}
	perKID := map[string]bool{}
	whole := false // a rule about the removals together covers each of them
	for _, v := range check(in, nil) {
		switch v.Rule {
		case RuleNoLifetime, RuleNoSuccessor, RuleTooEarly:
			perKID[v.KID] = true
		case RuleTooManyRemove:
			whole = true
		case RuleNoSharedKey:
			whole = whole || force // only --force overrides it
		}
	}
	var out []string
	for _, kid := range removed {
		if (perKID[kid] || whole) && (force || slices.Contains(allow, kid)) {
			out = append(out, kid)
		}
	}
	return out
}

// RecordRemovalAllowed notes on each kid's entry that by let it go at at, for the removals
// OverriddenRemovals lists; kids the state does not hold are skipped. The state keeps the
// decision after the log line that reported it is gone.
func (s *State) RecordRemovalAllowed(kids []string, by string, at time.Time) {
	at = at.UTC().Truncate(time.Second)
	for _, kid := range kids {
		if k := s.Key(kid); k != nil {
			k.RemovalAllowed = &Override{By: by, At: at}
		}
	}
}
