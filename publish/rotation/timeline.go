package rotation

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// Timeline is the rotation procedure made visible for one target: add a key, wait until it is
// safe to sign with, switch the signer, wait until the old key is removable, remove it.
type Timeline struct {
	Set    string `json:"set"`
	Target string `json:"target"`
	// SafeDelay is how long verifiers may keep the previous document (see SafeDelay).
	SafeDelay time.Duration `json:"safe_delay"`
	// MaxTokenLifetime is the configured rotation.max_token_lifetime, 0 when unset.
	MaxTokenLifetime time.Duration `json:"max_token_lifetime,omitempty"`
	// SignWith is the newest live kid that is safe to sign with now, empty when none is.
	SignWith string        `json:"sign_with"`
	Keys     []KeyTimeline `json:"keys"`
	// Now is the time the timeline was computed at.
	Now time.Time `json:"now"`
}

// KeyTimeline is one kid's dates at a target.
type KeyTimeline struct {
	KID    string `json:"kid"`
	Source string `json:"source"`
	// Live reports whether the kid is in the live document.
	Live           bool      `json:"live"`
	FirstPublished time.Time `json:"first_published"`
	// SafeFrom is first published + safe delay: from then every verifier has the key.
	SafeFrom   time.Time  `json:"safe_from"`
	Superseded *time.Time `json:"superseded,omitempty"`
	// RemovableFrom is superseded + safe delay + max_token_lifetime; nil when removal needs
	// --allow-removal (no successor, or no max_token_lifetime).
	RemovableFrom *time.Time `json:"removable_from,omitempty"`
	Retired       *time.Time `json:"retired,omitempty"`
	// Version is the key's place in its source's order (StateKey.Version), 0 when unknown.
	Version int `json:"version,omitempty"`
	// RemovalAllowed is the recorded --allow-removal that removed the kid, if any.
	RemovalAllowed *Override `json:"removal_allowed,omitempty"`
}

// TimelineOf builds the timeline of set at target from the target's state and live document
// (the only inputs, as for the guard), the set's rotation rules and the Cache-Control in effect.
func TimelineOf(set string, rules Rules, target string, st *State, live []jwks.LiveKey, cacheControl string, now time.Time) *Timeline {
	delay := SafeDelay(rules, cacheControl)
	mtl := time.Duration(rules.MaxTokenLifetime)
	tl := &Timeline{Set: set, Target: target, SafeDelay: delay, MaxTokenLifetime: max(mtl, 0), Keys: []KeyTimeline{}, Now: now.UTC()}
	isLive := map[string]bool{}
	for _, l := range live {
		isLive[l.KID] = true
	}
	if st != nil {
		for _, k := range st.Keys {
			kt := KeyTimeline{KID: k.KID, Source: k.Source, Live: isLive[k.KID], FirstPublished: k.FirstPublished.UTC(),
				SafeFrom: k.FirstPublished.Add(delay).UTC(), Superseded: utcPtr(k.Superseded), Retired: utcPtr(k.Retired),
				Version: k.Version, RemovalAllowed: k.RemovalAllowed}
			if k.Superseded != nil && mtl > 0 {
				r := k.Superseded.Add(addDelays(delay, mtl)).UTC()
				kt.RemovableFrom = &r
			}
			tl.Keys = append(tl.Keys, kt)
		}
	}
	// Live kids the state does not know (no state yet): shown, but with no dates to trust.
	for _, l := range live {
		if st.Key(l.KID) == nil {
			tl.Keys = append(tl.Keys, KeyTimeline{KID: l.KID, Source: "live (no state)", Live: true})
		}
	}
	slices.SortFunc(tl.Keys, func(a, b KeyTimeline) int {
		if c := a.FirstPublished.Compare(b.FirstPublished); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})
	if newest := signWith(tl.Keys, now); newest != nil {
		tl.SignWith = newest.KID
	}
	return tl
}

// signWith picks the key to sign with among the live keys every verifier has by now. Within
// one source the source's own order decides (the highest Transit or KV version, the last in
// file order), then a key nothing supersedes, then the later first publication: versions first
// published together are equally new by date, and kid strings say nothing about age. Across
// sources, a key nothing supersedes, then the later first publication. The kid breaks what ties
// remain, so the answer never depends on the order of the state.
func signWith(keys []KeyTimeline, now time.Time) *KeyTimeline {
	safe := func(k *KeyTimeline) bool {
		return k.Live && k.Retired == nil && !k.FirstPublished.IsZero() && !now.Before(k.SafeFrom)
	}
	// unsuperseded, then later first publication, then kid: the order across sources.
	byDate := func(a, b *KeyTimeline) int {
		if c := cmp.Compare(boolRank(a.Superseded == nil), boolRank(b.Superseded == nil)); c != 0 {
			return c
		}
		if c := a.FirstPublished.Compare(b.FirstPublished); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	}
	best := map[string]*KeyTimeline{} // per source
	var sources []string
	for i := range keys {
		k := &keys[i]
		if !safe(k) {
			continue
		}
		b, ok := best[k.Source]
		if !ok {
			sources = append(sources, k.Source)
			best[k.Source] = k
			continue
		}
		if k.Version > 0 && b.Version > 0 && k.Version != b.Version {
			if k.Version > b.Version {
				best[k.Source] = k
			}
			continue
		}
		if byDate(k, b) > 0 {
			best[k.Source] = k
		}
	}
	var newest *KeyTimeline
	for _, src := range sources {
		if k := best[src]; newest == nil || byDate(k, newest) > 0 {
			newest = k
		}
	}
	return newest
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
