package rotation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// TestCheck judges inputs made by hand: the rules need no target, no document and no clock.
// k1 was first published at t0 and superseded by k2 at t0+1h; the safe delay is a minute and
// tokens live a day, so k1 is removable from t0+1h+1m+24h.
func TestCheck(t *testing.T) {
	sup := t0.Add(time.Hour)
	removable := sup.Add(time.Minute + 24*time.Hour)
	k1, k2, k3 := jwks.LiveKey{KID: "k1", Alg: "EdDSA", Thumbprint: "t1"}, jwks.LiveKey{KID: "k2", Alg: "EdDSA", Thumbprint: "t2"}, jwks.LiveKey{KID: "k3", Alg: "EdDSA", Thumbprint: "t3"}
	state := &State{Version: StateVersion, Keys: []StateKey{
		{KID: "k1", Thumbprint: "t1", Source: "s", FirstPublished: t0, Superseded: &sup},
		{KID: "k2", Thumbprint: "t2", Source: "s", FirstPublished: sup},
	}}
	day, two := Duration(24*time.Hour), 2
	in := func(next []jwks.LiveKey, now time.Time, r Rules) Input {
		return Input{Live: []jwks.LiveKey{k1, k2}, Next: next, Old: state, Now: now, SafeDelay: time.Minute, Rules: r}
	}
	withMTL := Rules{MaxTokenLifetime: day}
	other := k1
	other.Thumbprint = "other"
	es := k2
	es.Alg = "ES256"
	tests := []struct {
		name             string
		in               Input
		allow            []string
		force            bool
		refused, overrid []string // rule names
	}{
		{"add a key", in([]jwks.LiveKey{k1, k2, k3}, sup, withMTL), nil, false, nil, nil},
		{"remove one second early", in([]jwks.LiveKey{k2}, removable.Add(-time.Second), withMTL), nil, false, []string{RuleTooEarly}, nil},
		{"remove once safe", in([]jwks.LiveKey{k2}, removable, withMTL), nil, false, nil, nil},
		{"early, allowed by name", in([]jwks.LiveKey{k2}, sup, withMTL), []string{"k1"}, false, nil, nil},
		{"early, another kid allowed", in([]jwks.LiveKey{k2}, sup, withMTL), []string{"k2"}, false, []string{RuleTooEarly}, nil},
		{"no max_token_lifetime", in([]jwks.LiveKey{k2}, removable.Add(1000*time.Hour), Rules{}), nil, false, []string{RuleNoLifetime}, nil},
		{"no successor", in([]jwks.LiveKey{k1}, removable.Add(1000*time.Hour), withMTL), nil, false, []string{RuleNoSuccessor}, nil},
		{"no state at all", Input{Live: []jwks.LiveKey{k1, k2}, Next: []jwks.LiveKey{k2}, Now: removable, Rules: withMTL}, nil, false, []string{RuleNoSuccessor}, nil},
		{"replace every key", in([]jwks.LiveKey{k3}, removable.Add(1000*time.Hour), withMTL), nil, false, []string{RuleNoSharedKey, RuleTooManyRemove, RuleNoSuccessor}, nil},
		{"replace every key, max_removed 2", in([]jwks.LiveKey{k3}, removable.Add(1000*time.Hour), Rules{MaxTokenLifetime: day, MaxRemoved: &two}), nil, false, []string{RuleNoSharedKey, RuleNoSuccessor}, nil},
		{"replace every key, both named", in([]jwks.LiveKey{k3}, sup, withMTL), []string{"k1", "k2"}, false, []string{RuleNoSharedKey}, nil},
		{"replace every key, forced", in([]jwks.LiveKey{k3}, sup, withMTL), nil, true, nil, []string{RuleNoSharedKey, RuleTooManyRemove, RuleTooEarly, RuleNoSuccessor}},
		{"a live kid for other material", in([]jwks.LiveKey{other, k2}, sup, withMTL), nil, false, []string{RuleKIDReused}, nil},
		{"an alg change", in([]jwks.LiveKey{k1, es}, sup, withMTL), nil, false, []string{RuleAlgChanged}, nil},
		{"an empty set, even forced", in(nil, sup, withMTL), nil, true, []string{RuleEmptySet}, nil},
		{"the first publication", Input{Next: []jwks.LiveKey{k1}, Now: t0}, nil, false, nil, nil},
	}
	names := func(vs []Violation) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Rule)
			if v.Detail == "" || v.Fix == "" {
				t.Errorf("violation without detail or fix: %+v", v)
			}
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused, overridden := Check(tt.in, tt.allow, tt.force)
			if got := names(refused); !slices.Equal(got, tt.refused) {
				t.Errorf("refused %v, want %v", got, tt.refused)
			}
			if got := names(overridden); !slices.Equal(got, tt.overrid) {
				t.Errorf("overridden %v, want %v", got, tt.overrid)
			}
		})
	}
	// The refusal says when the key becomes removable, from the inputs alone.
	refused, _ := Check(in([]jwks.LiveKey{k2}, sup, withMTL), nil, false)
	want := "removable from 2026-03-02T13:01:00Z (superseded 2026-03-01T13:00:00Z + safe delay 1m0s + max_token_lifetime 24h0m0s); it is 2026-03-01T13:00:00Z"
	if len(refused) != 1 || refused[0].KID != "k1" || !strings.Contains(refused[0].Detail, want) {
		t.Errorf("refused = %+v\nwant %s", refused, want)
	}
}
