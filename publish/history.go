package publish

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
)

// goneKey is why a live key of a Historian source leaves the set although the rotation rules
// would keep it: the source says it no longer exists or can no longer be used. The guard
// names it in its refusal.
type goneKey struct {
	detail string // the source's error, naming the key and its state
	fix    string
}

// keepHistory adds to the set the keys live at target that a source still read by id
// (sources.Historian: an aws-kms: alias moved to a new key) yielded before and yields no
// longer, as long as the rotation rules would refuse their removal: tokens they signed may
// still be valid. Each is read again by the id the state recorded, so a key that is gone
// (deleted, disabled) is not kept but left for the guard to judge, with the reason in gone.
//
// A kept key is published as it is live (the same kid and alg), after checking the source
// still gives the same material. It ranks below every key its source yields now (Order 0):
// the alias's key supersedes it, and status signs with the alias's key.
//
// Keys whose removal the rules allow (superseded + safe delay + max_token_lifetime passed)
// are dropped, at most max_removed of them per publication, oldest supersession first; so are
// the kids named in o.AllowRemoval.
func keepHistory(ctx context.Context, o PlanOptions, target string, liveDoc *Object, old *rotation.State, safeDelay time.Duration) (*jwks.Set, map[string]goneKey, error) {
	if len(o.Keys.History) == 0 || liveDoc == nil || old == nil {
		return o.Keys, nil, nil
	}
	kids, thumbs := map[string]bool{}, map[string]bool{}
	for _, k := range o.Keys.Keys {
		kids[k.KID], thumbs[k.Thumbprint] = true, true
	}
	var cands []*rotation.StateKey
	for i := range old.Keys {
		sk := &old.Keys[i]
		if sk.Live() && sk.SourceKey != "" && o.Keys.History[sk.Source] != nil && !kids[sk.KID] && !thumbs[sk.Thumbprint] {
			cands = append(cands, sk)
		}
	}
	if len(cands) == 0 {
		return o.Keys, nil, nil
	}
	liveSet, err := jwks.Verify(liveDoc.Body, sources.Origin{Source: target}, jwks.VerifyOptions{Policy: o.Set.Policy})
	if err != nil {
		return nil, nil, fmt.Errorf("set %q: target %s: cannot keep the earlier keys of %s: %w", o.Set.Name, target, historySpecs(cands), err)
	}
	liveBy := map[string]jwks.JWK{}
	for _, k := range liveSet.Keys {
		liveBy[k.KID] = k
	}

	// The rules' removal time; a key not yet superseded, or a set without max_token_lifetime,
	// never reaches it: the operator lets such a key go with --allow-removal.
	mtl := time.Duration(o.Set.Rotation.MaxTokenLifetime)
	removableAt := func(sk *rotation.StateKey) (time.Time, bool) {
		if mtl <= 0 || sk.Superseded == nil {
			return time.Time{}, false
		}
		return sk.Superseded.Add(safeDelay + mtl), true
	}
	slices.SortFunc(cands, func(a, b *rotation.StateKey) int {
		ta, _ := removableAt(a)
		tb, _ := removableAt(b)
		return cmp.Or(ta.Compare(tb), strings.Compare(a.KID, b.KID))
	})
	budget := 1
	if m := o.Set.Rotation.MaxRemoved; m != nil {
		budget = *m
	}

	out := *o.Keys
	out.Keys = slices.Clone(o.Keys.Keys)
	gone := map[string]goneKey{}
	for _, sk := range cands {
		lk, ok := liveBy[sk.KID]
		if !ok {
			continue // the state says live, the document lacks it: nothing to keep
		}
		if slices.Contains(o.AllowRemoval, sk.KID) {
			continue
		}
		if at, ok := removableAt(sk); ok && !o.Now.Before(at) && budget > 0 {
			budget--
			continue
		}
		k, err := o.Keys.History[sk.Source].KeyByID(ctx, sk.SourceKey)
		if sources.IsGone(err) {
			g := goneKey{detail: err.Error(), fix: "keep the key usable until then"}
			if se, ok := err.(*sources.Error); ok {
				g.detail = se.Origin.String() + ": " + se.Err.Error()
				if se.Fix != "" {
					g.fix = se.Fix
				}
			}
			gone[sk.KID] = g
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("set %q: target %s: kid %q stays published until the rotation guard lets it go, but reading it again failed: %w", o.Set.Name, target, sk.KID, err)
		}
		k.Spec = sk.Source
		got, err := jwks.Assemble([]sources.Key{k}, jwks.AssembleOptions{Policy: o.Set.Policy, KID: jwks.KIDThumbprint})
		if err != nil {
			return nil, nil, fmt.Errorf("set %q: target %s: kid %q stays published until the rotation guard lets it go, but %s no longer passes the policy: %w", o.Set.Name, target, sk.KID, sk.SourceKey, err)
		}
		if tp := got.Keys[0].Thumbprint; tp != sk.Thumbprint {
			return nil, nil, fmt.Errorf("set %q: target %s: kid %q: %s %s now gives key material of thumbprint %s, the state records %s (fix: check the key id; the live key stays published only with its own material)", o.Set.Name, target, sk.KID, sk.Source, sk.SourceKey, tp, sk.Thumbprint)
		}
		lk.Spec, lk.Order, lk.SourceKey = sk.Source, 0, sk.SourceKey
		lk.Origin = k.Origin
		out.Keys = append(out.Keys, lk)
	}
	slices.SortFunc(out.Keys, func(a, b jwks.JWK) int { return strings.Compare(a.KID, b.KID) })
	return &out, gone, nil
}

// historySpecs names the sources of cands, for a message.
func historySpecs(cands []*rotation.StateKey) string {
	var specs []string
	for _, sk := range cands {
		if !slices.Contains(specs, sk.Source) {
			specs = append(specs, sk.Source)
		}
	}
	return strings.Join(specs, ", ")
}
