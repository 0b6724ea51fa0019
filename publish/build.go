package publish

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// BuildOptions configure Build.
type BuildOptions struct {
	Set     *config.SetConfig
	Sources []sources.Source // built by the caller from Set.Sources
	Now     time.Time        // for certificate validity; zero skips those checks
	Logger  *slog.Logger
	// KeepsLive says the set is published to targets, where PlanTarget keeps the live keys of
	// unavailable optional sources. A set left empty only because every source that gave no
	// key is such a source is then returned empty instead of refused (empty-set): the guard
	// still refuses it at a target where nothing live is kept. build and render, which read
	// no target, leave it false.
	KeepsLive bool
}

// Build reads every source and assembles the set: the main job of `jwkspub build`, and the
// first step of diff and publish. It reads every source even after one fails and reports
// source errors together with policy violations, so one run shows everything to fix.
func Build(ctx context.Context, o BuildOptions) (*jwks.Set, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		keys        []sources.Key
		errs        []error
		unavailable []string
		// A failure of the whole Vault connection (its one login) is every vault source's
		// error: it is reported once, naming the sources it stopped.
		shared = map[error]*sharedFailure{}
	)
	for si, s := range o.Sources {
		ks, err := s.Keys(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("reading %s: %w", s, ctx.Err())
			}
			sf := vault.SharedFailure(err)
			g := shared[sf]
			if sf != nil && g == nil {
				g = &sharedFailure{err: err, at: -1}
				shared[sf] = g
			}
			// An optional source that is down (not wrong) keeps its live keys: publication
			// carries them over from each target's live document rather than removing them.
			if si < len(o.Set.Sources) && o.Set.Sources[si].Optional && sources.IsUnavailable(err) {
				msg := err.Error()
				if g != nil && g.warned != "" {
					msg = "the same failure as " + g.warned
				} else if g != nil {
					g.warned = s.String()
				}
				log.Warn("optional source unavailable: its keys that are live stay published", "set", o.Set.Name, "source", s.String(), "err", msg)
				unavailable = append(unavailable, s.String())
				continue
			}
			switch {
			case g == nil:
				errs = append(errs, err)
			case g.at < 0:
				g.at, g.specs = len(errs), []string{s.String()}
				errs = append(errs, err)
			default:
				g.specs = append(g.specs, s.String())
			}
		}
		log.Debug("source read", "source", s.String(), "keys", len(ks))
		name := s.String()
		for i := range ks {
			ks[i].Spec = name
		}
		rankOrder(ks)
		if keys == nil {
			keys = ks // the common single source: no copy of ten thousand keys
		} else {
			keys = append(keys, ks...)
		}
	}
	for _, g := range shared {
		if len(g.specs) > 1 {
			errs[g.at] = g.merged()
		}
	}
	var set *jwks.Set
	if len(errs) == 0 || len(keys) > 0 {
		var err error
		set, err = jwks.Assemble(keys, jwks.AssembleOptions{Policy: o.Set.Policy, KID: o.Set.KID, KIDTemplate: o.Set.KIDTemplate, Now: o.Now})
		var pe *jwks.PolicyError
		if errors.As(err, &pe) && (len(errs) > 0 || o.KeepsLive && len(unavailable) > 0) {
			// An empty or short set is a consequence of the source errors, not news; or the
			// live keys of the unavailable sources will fill it at each target.
			pe.Violations = jwks.WithoutRule(pe.Violations, rotation.RuleEmptySet)
			if len(pe.Violations) == 0 {
				err, set = nil, &jwks.Set{}
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("set %q: %w", o.Set.Name, errors.Join(errs...))
	}
	set.Unavailable = unavailable
	for _, s := range o.Sources {
		if h, ok := s.(sources.Historian); ok && !slices.Contains(unavailable, s.String()) {
			if set.History == nil {
				set.History = map[string]sources.Historian{}
			}
			set.History[s.String()] = h
		}
	}
	// Warnings up to a bound: a set given ten thousand duplicate keys has a warning for each.
	for _, w := range set.Warnings[:min(len(set.Warnings), sources.ListLimit)] {
		log.Warn(w, "set", o.Set.Name)
	}
	if n := len(set.Warnings) - sources.ListLimit; n > 0 {
		log.Warn(sources.MoreLine(n)+" warnings", "set", o.Set.Name)
	}
	return set, nil
}

// sharedFailure is one failure several sources failed with (sources.SharedFailure).
type sharedFailure struct {
	err    error    // as the first source reported it
	at     int      // its index in Build's errors; -1 when no required source failed with it
	specs  []string // the required sources it stopped
	warned string   // the optional source whose warning already gave it
}

// merged is the failure as one error naming every source it stopped.
func (g *sharedFailure) merged() error {
	names := strings.Join(g.specs, ", ")
	var se *sources.Error
	if errors.As(g.err, &se) {
		return &sources.Error{Origin: sources.Origin{Source: names}, Err: se.Err, Fix: se.Fix}
	}
	return fmt.Errorf("%s: %w", names, g.err)
}

// rankOrder gives each key of one source its Order, higher is newer. Orders the source gave
// that are all positive and distinct (Transit and KV versions) are kept, so the state and
// status name the version an operator knows; otherwise each key gets its rank from 1: by the
// Order the source gave, then by position, since sources return their keys oldest first.
func rankOrder(ks []sources.Key) {
	given := false
	for i := range ks {
		given = given || ks[i].Order != 0
	}
	if given && distinctPositive(ks) {
		return
	}
	if !given {
		for i := range ks {
			ks[i].Order = i + 1
		}
		return
	}
	idx := make([]int, len(ks))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ks[a].Order, ks[b].Order) })
	for r, i := range idx {
		ks[i].Order = r + 1
	}
}

func distinctPositive(ks []sources.Key) bool {
	seen := make(map[int]bool, len(ks))
	for _, k := range ks {
		if k.Order <= 0 || seen[k.Order] {
			return false
		}
		seen[k.Order] = true
	}
	return true
}

// WriteFileAtomic writes data to path so that readers see either the old or the new content,
// never a partial file: a temporary file in the same directory, fsync, rename. A symbolic link
// is written through to its target, and a path that is not a regular file (a device such as
// /dev/null or /dev/stdout, a pipe) is written directly: renaming over it would replace the
// link or the device itself. A named pipe must already have its reader: opening it is never
// left waiting for one (see openDirect).
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		if st.IsDir() {
			return fmt.Errorf("writing %s: it is a directory", path)
		}
		return writeDirect(path, data)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeDirect writes to a device or pipe, which cannot be replaced atomically.
func writeDirect(path string, data []byte) error {
	f, err := openDirect(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
