package targettest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jwkspub/jwkspub/publish/target"
)

// store is one in-memory location: what every handle to it shares.
type store struct {
	mu   sync.Mutex
	objs map[string]target.Object
	// gen counts changes; the revision is made of it, so it changes with every object.
	gen   int
	reads int
	// locked is a lock a flawed Write left behind when it was interrupted.
	locked bool
}

// flaws make the reference target break one rule of the contract, to prove the suite sees it.
type flaws struct {
	ignoreBase        bool // writes whatever the target holds now
	unwrappedConflict bool // reports a conflict with an error that does not wrap ErrConflict
	deleteJWKSFirst   bool // removes the JWKS, then writes everything
	tornObjects       bool // writes each body in two halves, a write point between them
	stateFirst        bool // writes the state before the others
	leakLock          bool // an interrupted Write leaves the location locked
	revisionPerRead   bool // every Read returns a new revision
	emptyRevision     bool // an empty location reads with a revision
	deleteAbsentFails bool // deleting an absent object is an error
	truncateAbove     int  // bodies are cut to this many bytes
	dropHeaders       bool // claims attributes but stores no headers
	nilOnCancel       bool // an interrupted Write returns nil
	// checkThenWrite compares the revision, lets go of the lock for a while, then writes: the
	// race of a target whose precondition is a read before an unconditional write.
	checkThenWrite bool
}

// mem is a handle to a store: the reference target, right unless given flaws.
type mem struct {
	s       *store
	names   target.Names
	attrs   bool
	onWrite func(string)
	f       flaws
}

// revision is what the store holds now, "" when nothing. Called with s.mu held.
func (m *mem) revision() string {
	if len(m.s.objs) == 0 && !m.f.emptyRevision {
		return ""
	}
	return fmt.Sprintf("g%d", m.s.gen)
}

func (m *mem) Read(ctx context.Context) (*target.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem: reading: %w", err)
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	m.s.reads++
	snap := &target.Snapshot{Names: m.names, Objects: map[string]*target.Object{}, Attributes: m.attrs, Revision: m.revision()}
	if m.f.revisionPerRead && snap.Revision != "" {
		snap.Revision += fmt.Sprintf("-r%d", m.s.reads)
	}
	for name, o := range m.s.objs {
		o.Body = bytes.Clone(o.Body)
		o.Metadata = maps.Clone(o.Metadata)
		snap.Objects[name] = &o
	}
	return snap, nil
}

func (m *mem) Write(ctx context.Context, base *target.Snapshot, objs []target.Object) error {
	for _, o := range objs {
		if !slices.Contains(m.names.All(), o.Name) {
			return fmt.Errorf("mem: %q is not one of the set's objects %q", o.Name, m.names.All())
		}
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.locked {
		return fmt.Errorf("mem: the location is locked by a publisher that never finished: %w", target.ErrConflict)
	}
	rev, _, _ := strings.Cut(base.Revision, "-r")
	if !m.f.ignoreBase && rev != m.revision() {
		if m.f.unwrappedConflict {
			return fmt.Errorf("mem: precondition failed: at %s, not %s", m.revision(), rev)
		}
		return fmt.Errorf("mem: at %s, not %s: %w", m.revision(), rev, target.ErrConflict)
	}
	if m.f.checkThenWrite {
		m.s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		m.s.mu.Lock()
	}
	if m.f.stateFirst {
		objs = slices.Clone(objs)
		slices.SortStableFunc(objs, func(a, b target.Object) int {
			return boolCmp(b.Name == m.names.State, a.Name == m.names.State)
		})
	}
	// point marks a write point: the change so far is visible, the context is checked.
	point := func(p string) error {
		m.s.gen++
		if m.onWrite != nil {
			m.onWrite(p)
		}
		if err := ctx.Err(); err != nil {
			if m.f.nilOnCancel {
				return errNilOnCancel
			}
			if !m.f.leakLock {
				return fmt.Errorf("mem: interrupted after %s: %w", p, err)
			}
			m.s.locked = true
			return fmt.Errorf("mem: interrupted after %s, lock left: %w", p, err)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: writing: %w", err)
	}
	if m.f.deleteJWKSFirst {
		delete(m.s.objs, m.names.JWKS)
		if err := point("delete " + m.names.JWKS); err != nil {
			return err
		}
	}
	err := m.write(objs, point)
	if errors.Is(err, errNilOnCancel) {
		return nil
	}
	return err
}

// errNilOnCancel tells Write to hide an interruption from its caller.
var errNilOnCancel = errors.New("interrupted")

// write stores objs in order, calling point after each change. Called with s.mu held.
func (m *mem) write(objs []target.Object, point func(string) error) error {
	for _, o := range objs {
		if o.Delete {
			if _, ok := m.s.objs[o.Name]; !ok && m.f.deleteAbsentFails {
				return fmt.Errorf("mem: deleting %s: no such object", o.Name)
			}
			delete(m.s.objs, o.Name)
			if err := point("delete " + o.Name); err != nil {
				return err
			}
			continue
		}
		if m.f.tornObjects {
			m.s.objs[o.Name] = m.stored(o, o.Body[:len(o.Body)/2])
			if err := point("half of " + o.Name); err != nil {
				return err
			}
		}
		m.s.objs[o.Name] = m.stored(o, o.Body)
		if err := point("write " + o.Name); err != nil {
			return err
		}
	}
	return nil
}

// stored is what the store keeps of o with body: no headers where it keeps no attributes.
// Called with s.mu held.
func (m *mem) stored(o target.Object, body []byte) target.Object {
	if m.f.truncateAbove > 0 && len(body) > m.f.truncateAbove {
		body = body[:m.f.truncateAbove]
	}
	s := target.Object{Name: o.Name, Body: bytes.Clone(body), Revision: fmt.Sprintf("g%d", m.s.gen+1)}
	if m.attrs && !m.f.dropHeaders {
		s.CacheControl, s.ContentType, s.ContentEncoding = o.CacheControl, o.ContentType, o.ContentEncoding
		s.Metadata = maps.Clone(o.Metadata)
	}
	return s
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
