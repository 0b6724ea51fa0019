package rotation

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// StateVersion is the state object's format version. ParseState refuses any other, so an
// older jwkspub never rewrites a newer state it does not understand.
const StateVersion = 1

// State is the state object, "<key>.state.json" beside each published JWKS: what jwkspub
// knows about every kid it has published there. The rotation guard and status read only this
// and the live document, so the timeline survives the machine and the CI runner.
type State struct {
	Version int `json:"version"`
	// Keys holds every kid ever published at the target, sorted by kid, retired ones included.
	Keys []StateKey `json:"keys"`
}

// StateKey is one kid's history at a target.
type StateKey struct {
	KID string `json:"kid"`
	// Thumbprint is the RFC 7638 thumbprint of the material published under KID.
	Thumbprint string `json:"thumbprint"`
	// Source is the spec of the source the key came from ("file:keys/*.pem"), or "live"
	// for a key found in a live document that had no state yet.
	Source string `json:"source"`
	// FirstPublished is when the kid was first written to the target.
	FirstPublished time.Time `json:"first_published"`
	// Superseded is when a newer key from the same source was first published: from then
	// on signers may switch away from this key.
	Superseded *time.Time `json:"superseded,omitempty"`
	// Retired is when the kid left the published document.
	Retired *time.Time `json:"retired,omitempty"`
	// Version is the key's place in its source's order (sources.Key.Order: the Transit or KV
	// version, the position in file order); higher is newer, 0 when the source has no order
	// or the state predates it. Optional, so states without it read as before.
	Version int `json:"version,omitempty"`
	// SourceKey is the source's own id of the key (sources.Key.SourceKey: an AWS KMS key
	// ARN), by which a source whose keys move on (an aws-kms: alias) reads it again while it
	// stays published. Optional, as Version.
	SourceKey string `json:"source_key,omitempty"`
	// RemovalAllowed records the operator's --allow-removal that let this kid go although the
	// guard's timing or count rules said no. Optional, as Version.
	RemovalAllowed *Override `json:"removal_allowed,omitempty"`
}

// Override is an operator's decision recorded in the state: who made it and when.
type Override struct {
	// By names who allowed it: the CI actor, or the local user, as the caller reports it.
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Live reports whether the kid is still published.
func (k *StateKey) Live() bool { return k.Retired == nil }

// ParseState parses a state object, refusing unknown fields, other versions, duplicate or
// empty kids and missing times: a state that cannot be trusted must stop publication rather
// than let the guard reason from it.
func ParseState(data []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("state object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("state object: trailing data after the JSON object")
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("state object: version %d, this jwkspub reads version %d (upgrade jwkspub)", s.Version, StateVersion)
	}
	seen := map[string]bool{}
	for i, k := range s.Keys {
		switch {
		case k.KID == "":
			return nil, fmt.Errorf("state object: key %d has no kid", i+1)
		case seen[k.KID]:
			return nil, fmt.Errorf("state object: kid %q appears twice", k.KID)
		case k.FirstPublished.IsZero():
			return nil, fmt.Errorf("state object: kid %q has no first_published", k.KID)
		}
		seen[k.KID] = true
	}
	slices.SortFunc(s.Keys, func(a, b StateKey) int { return strings.Compare(a.KID, b.KID) })
	return &s, nil
}

// Encode writes the state deterministically: equal states give equal bytes, so an unchanged
// publication leaves the state object untouched too.
func (s *State) Encode() ([]byte, error) {
	c := *s
	c.Version = StateVersion
	c.Keys = slices.Clone(s.Keys)
	if c.Keys == nil {
		c.Keys = []StateKey{}
	}
	for i := range c.Keys {
		c.Keys[i].FirstPublished = c.Keys[i].FirstPublished.UTC()
		c.Keys[i].Superseded = utcPtr(c.Keys[i].Superseded)
		c.Keys[i].Retired = utcPtr(c.Keys[i].Retired)
		if o := c.Keys[i].RemovalAllowed; o != nil {
			c.Keys[i].RemovalAllowed = &Override{By: o.By, At: o.At.UTC()}
		}
	}
	slices.SortFunc(c.Keys, func(a, b StateKey) int { return strings.Compare(a.KID, b.KID) })
	out, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding state object: %w", err)
	}
	return append(out, '\n'), nil
}

// Key returns the entry for kid, or nil.
func (s *State) Key(kid string) *StateKey {
	if s == nil {
		return nil
	}
	for i := range s.Keys {
		if s.Keys[i].KID == kid {
			return &s.Keys[i]
		}
	}
	return nil
}

// NextState is the state after publishing set over a target whose live document holds live
// and whose state was old (nil when absent), at now. It does not modify old.
//
//   - a kid published for the first time (or again after it was retired, or with other
//     material under --force) gets first_published = now;
//   - a live kid the state does not know (a document published before jwkspub kept state)
//     is adopted with first_published = now and source "live": the later time is the safe
//     assumption for "safe to sign with", and an unknown supersession makes its removal need
//     --allow-removal;
//   - when a kid is first published, every live key of the same source that is older and not
//     yet superseded is superseded = now;
//   - a kid that leaves the document is retired = now.
//
// Adopted kids count as first published now for supersession too: a run that wrote the
// document and died before the state leaves exactly this, and the next run must still record
// that the new key superseded the old ones.
func NextState(old *State, live []jwks.LiveKey, set *jwks.Set, now time.Time) *State {
	now = now.UTC().Truncate(time.Second)
	next := &State{Version: StateVersion}
	if old != nil {
		next.Keys = slices.Clone(old.Keys)
		for i := range next.Keys {
			next.Keys[i].Superseded = clonePtr(next.Keys[i].Superseded)
			next.Keys[i].Retired = clonePtr(next.Keys[i].Retired)
			next.Keys[i].RemovalAllowed = cloneOverride(next.Keys[i].RemovalAllowed)
		}
	}
	idx := func(kid string) int {
		return slices.IndexFunc(next.Keys, func(k StateKey) bool { return k.KID == kid })
	}
	// adopted are live kids the old state does not record as live: a document published before
	// jwkspub kept state, restored by hand, or written by a run that died before its state
	// write. They are treated as first published now, which supersedes the same source's older
	// keys now: a crash between the document and the state must not lose a supersession.
	adopted := map[string]bool{}
	for _, lk := range live {
		if i := idx(lk.KID); i < 0 {
			next.Keys = append(next.Keys, StateKey{KID: lk.KID, Thumbprint: lk.Thumbprint, Source: "live", FirstPublished: now})
			adopted[lk.KID] = true
		} else if !next.Keys[i].Live() {
			next.Keys[i] = StateKey{KID: lk.KID, Thumbprint: lk.Thumbprint, Source: next.Keys[i].Source, FirstPublished: now}
			adopted[lk.KID] = true
		}
	}
	inSet := map[string]bool{}
	var fresh []string // kids first published by this publication
	for _, k := range set.Keys {
		inSet[k.KID] = true
		src := k.SourceSpec()
		i := idx(k.KID)
		switch {
		case i < 0:
			next.Keys = append(next.Keys, StateKey{KID: k.KID, Thumbprint: k.Thumbprint, Source: src, FirstPublished: now})
			fresh = append(fresh, k.KID)
		case !next.Keys[i].Live() || next.Keys[i].Thumbprint != k.Thumbprint:
			next.Keys[i] = StateKey{KID: k.KID, Thumbprint: k.Thumbprint, Source: src, FirstPublished: now}
			fresh = append(fresh, k.KID)
		case next.Keys[i].Source == "live" && src != "":
			next.Keys[i].Source = src // adopted; now we know where it comes from
		}
		// The source's order as of this publication: a key kept for an unavailable source
		// has none this run and keeps the recorded one.
		if i < 0 {
			i = len(next.Keys) - 1 // appended above
		}
		if k.Order > 0 {
			next.Keys[i].Version = k.Order
		}
		if k.SourceKey != "" {
			next.Keys[i].SourceKey = k.SourceKey
		}
	}
	for i := range next.Keys {
		k := &next.Keys[i]
		if k.Live() && !inSet[k.KID] {
			k.Retired = &now
		}
	}
	supersede(next, set, fresh, adopted, now)
	slices.SortFunc(next.Keys, func(a, b StateKey) int { return strings.Compare(a.KID, b.KID) })
	return next
}

// supersede marks the live keys of st that a newer key of the same source, in set, supersedes.
// Newer is the source's own order (JWK.Order: the Transit or KV version, the file order) when
// both keys have one, so that versions first published together are ordered too; the key is
// then superseded from when both were published. Without an order, a key first published now
// supersedes the same source's keys published before. An adopted key (live, but new to the
// state) ranks between: newer than the keys the state knew, older than keys new to the document.
func supersede(st *State, set *jwks.Set, fresh []string, adopted map[string]bool, now time.Time) {
	type member struct {
		sk    *StateKey
		order int
		rank  int // 0 known before, 1 adopted from the live document, 2 new to the document
	}
	isFresh := make(map[string]bool, len(fresh))
	for _, kid := range fresh {
		isFresh[kid] = true
	}
	idx := make(map[string]int, len(st.Keys))
	for i := range st.Keys {
		idx[st.Keys[i].KID] = i
	}
	bySource := map[string][]member{}
	for _, k := range set.Keys {
		i, ok := idx[k.KID]
		if !ok || !st.Keys[i].Live() {
			continue
		}
		sk := &st.Keys[i]
		m := member{sk: sk, order: k.Order}
		switch {
		case isFresh[k.KID]:
			m.rank = 2
		case adopted[k.KID]:
			m.rank = 1
		}
		bySource[sk.Source] = append(bySource[sk.Source], m)
	}
	mark := func(m member, t time.Time) {
		if m.sk.Superseded == nil || t.Before(*m.sk.Superseded) {
			m.sk.Superseded = &t
		}
	}
	for _, ms := range bySource {
		// topRank is the newest rank among the keys; topUnordered among keys without order.
		topRank, topUnordered := 0, 0
		for _, m := range ms {
			topRank = max(topRank, m.rank)
			if m.order == 0 {
				topUnordered = max(topUnordered, m.rank)
			}
		}
		// Ordered keys, newest first; minHigher is the earliest first publication among the
		// keys of a strictly higher order seen so far.
		slices.SortStableFunc(ms, func(a, b member) int { return cmp.Compare(b.order, a.order) })
		var minHigher *time.Time
		for i := 0; i < len(ms) && ms[i].order > 0; {
			j := i
			for j < len(ms) && ms[j].order == ms[i].order {
				j++
			}
			for _, a := range ms[i:j] {
				if a.sk.Superseded != nil {
					continue
				}
				if minHigher != nil {
					mark(a, maxTime(a.sk.FirstPublished, *minHigher))
				}
				if topUnordered > a.rank {
					mark(a, now)
				}
			}
			for _, b := range ms[i:j] {
				if minHigher == nil || b.sk.FirstPublished.Before(*minHigher) {
					t := b.sk.FirstPublished
					minHigher = &t
				}
			}
			i = j
		}
		for _, a := range ms {
			if a.order == 0 && a.sk.Superseded == nil && topRank > a.rank {
				mark(a, now)
			}
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
func cloneOverride(o *Override) *Override {
	if o == nil {
		return nil
	}
	c := *o
	return &c
}

func clonePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.UTC()
	return &c
}
