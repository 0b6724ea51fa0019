// Package targettest is the conformance suite every target runs: one Run that checks an
// implementation of target.Target against the contract in package target's doc, the way
// gocloud.dev's drivertest checks every blob driver.
//
// A new target runs it with one call from its _test.go, giving a Harness that opens a new,
// empty location per use and separate handles to it (separate clients, as separate
// publishers would have), and passing the suite's onWrite to the target's write hook:
//
//	func TestConformance(t *testing.T) {
//		targettest.Run(t, targettest.Harness{
//			Fresh: func(t *testing.T) func(onWrite func(point string)) target.Target {
//				dir := t.TempDir() // a new directory, key prefix or tag per call
//				return func(onWrite func(point string)) target.Target {
//					tg, err := mytarget.New(dir, mytarget.Options{OnWrite: onWrite})
//					if err != nil {
//						t.Fatal(err)
//					}
//					return tg
//				}
//			},
//		})
//	}
//
// The suite calls Fresh and its opener only on the goroutine of the test it passed to Fresh,
// so both may call t.Fatal; handles are used from several goroutines at once (the race tests),
// and onWrite may be called from any goroutine.
//
// Each subtest is named for the rule it checks and its failures say which rule broke:
// EmptyRead, ReadAfterWrite, Unchanged, Delete, ConditionalWrite, FirstCreationRace, Racers,
// InterruptedWrite and BigObject. InterruptedWrite cancels the context of a Write at each of
// the target's write points in turn; a crash of the process (SIGKILL) is the binary-level
// tests' business.
package targettest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/target"
)

// Harness opens targets for the suite.
type Harness struct {
	// Fresh returns an opener for one new, empty location (a new directory, key prefix, tag).
	// Each call of the opener returns a separate handle (a separate client, as separate
	// publishers would have) to that same location; onWrite, when not nil, must be called by
	// the target at each of its write points (it may cancel a context the suite passed to
	// Write).
	Fresh func(t *testing.T) func(onWrite func(point string)) target.Target
	// Racers is how many concurrent publishers the Racers subtest uses (default 8);
	// FirstCreationRace always races two.
	Racers int
}

// Rules of the contract, quoted in failures.
const (
	ruleEmpty     = "an absent target (nothing published yet) is an empty Snapshot with Revision \"\", not an error, and Read writes nothing"
	ruleNames     = "Read returns the names of the set's objects at this target: a JWKS, a discovery document and a state object, all names distinct and the same at every Read"
	ruleStored    = "Write stores objs and Read returns each as written (body, and headers and metadata where the target keeps attributes)"
	ruleRevision  = "Read returns a revision that changes whenever any object changes"
	ruleStable    = "with no write in between, Reads return equal revisions and equal objects (the runner skips writes on that)"
	ruleDelete    = "an object with Delete set is removed, and removing an absent object is not an error"
	ruleCondition = "Write stores objs only if the target is still at base's revision, else writes nothing and returns an error wrapping target.ErrConflict"
	ruleWhole     = "a reader sees the old or the new bytes of each object, never a part, and never loses an object that is being replaced"
	ruleJWKS      = "the JWKS verifiers fetch is never absent: a crash between two objects leaves the served document whole"
	ruleOrder     = "Write stores objs in the order given (the JWKS first, the state last), so what verifiers need never lags what the state says"
	ruleRepair    = "after an interrupted Write the next run reads the target and repairs it with a Write from that read"
	ruleNil       = "a Write that returns nil has stored every object"
	ruleSize      = "an object up to target.MaxObjectSize is stored and read back whole"
)

// Run runs the conformance suite against the target h opens.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Fresh == nil {
		t.Fatal("targettest: Harness.Fresh is nil (fix: set it to open a new, empty location for each use)")
	}
	s := &suite{fresh: h.Fresh, racers: cmp.Or(h.Racers, 8)}
	if s.racers < 2 {
		t.Fatalf("targettest: Harness.Racers is %d (fix: at least 2, or 0 for the default of 8)", h.Racers)
	}
	t.Run("EmptyRead", s.emptyRead)
	t.Run("ReadAfterWrite", s.readAfterWrite)
	t.Run("Unchanged", s.unchanged)
	t.Run("Delete", s.delete)
	t.Run("ConditionalWrite", s.conditionalWrite)
	t.Run("FirstCreationRace", s.firstCreationRace)
	t.Run("Racers", s.racersTest)
	t.Run("InterruptedWrite", s.interruptedWrite)
	t.Run("BigObject", s.bigObject)
}

type suite struct {
	fresh  func(t *testing.T) func(onWrite func(point string)) target.Target
	racers int
}

// location is one fresh location and the names its target uses, learnt from a first Read.
type location struct {
	open  func(onWrite func(point string)) target.Target
	names target.Names
}

// newLocation opens a fresh location and reads it once, failing t unless it holds no
// objects and has usable names: every other subtest builds its objects from those names. The
// empty revision is EmptyRead's to check.
func (s *suite) newLocation(t *testing.T) *location {
	t.Helper()
	open := s.fresh(t)
	if open == nil {
		t.Fatal("Harness.Fresh returned a nil opener")
	}
	snap := read(t, open(nil), "a fresh location")
	if len(snap.Objects) > 0 {
		t.Fatalf("a fresh location holds %q; rule: %s (fix the harness if Fresh reuses a location)", slices.Sorted(maps.Keys(snap.Objects)), ruleEmpty)
	}
	if msg := namesProblem(snap.Names); msg != "" {
		t.Fatalf("a fresh location: %s; rule: %s", msg, ruleNames)
	}
	return &location{open: open, names: snap.Names}
}

func emptyProblem(s *target.Snapshot) string {
	var p []string
	if len(s.Objects) > 0 {
		p = append(p, fmt.Sprintf("Read returned objects %q", slices.Sorted(maps.Keys(s.Objects))))
	}
	if s.Revision != "" {
		p = append(p, fmt.Sprintf("Read returned Revision %q, want \"\"", s.Revision))
	}
	return strings.Join(p, "; ")
}

func namesProblem(n target.Names) string {
	if n.JWKS == "" || n.State == "" || n.Discovery == "" {
		return fmt.Sprintf("Names %+v: JWKS, Discovery and State must be set", n)
	}
	all := n.All()
	if len(sorted(all)) != len(all) {
		return fmt.Sprintf("Names %+v: two objects share a name", n)
	}
	return ""
}

// read reads tg, failing t if Read fails or returns nil.
func read(t *testing.T, tg target.Target, what string) *target.Snapshot {
	t.Helper()
	snap, err := tg.Read(t.Context())
	if err != nil {
		t.Fatalf("Read of %s: %v; rule: Read returns what is live (an absent target is no error)", what, err)
	}
	if snap == nil {
		t.Fatalf("Read of %s returned a nil Snapshot and no error", what)
	}
	return snap
}

// write writes objs from base, failing t on any error.
func write(t *testing.T, tg target.Target, base *target.Snapshot, objs []target.Object, what string) {
	t.Helper()
	if err := tg.Write(t.Context(), base, objs); err != nil {
		t.Fatalf("Write of %s: %v; rule: %s", what, err, ruleStored)
	}
}

// publish reads the location with a new handle and writes p, failing t on any error.
func (l *location) publish(t *testing.T, p publication) []target.Object {
	t.Helper()
	tg := l.open(nil)
	objs := p.objects(l.names)
	write(t, tg, read(t, tg, "the location before writing "+p.label), objs, "publication "+p.label)
	return objs
}

// holds checks that the location, read with a new handle, holds exactly want (an object
// with Delete set: absent) and returns what it read.
func (l *location) holds(t *testing.T, want []target.Object, rule, what string) *target.Snapshot {
	t.Helper()
	snap := read(t, l.open(nil), what)
	if snap.Names != l.names {
		t.Errorf("%s: Names changed from %+v to %+v; rule: %s", what, l.names, snap.Names, ruleNames)
	}
	present := map[string]bool{}
	for _, o := range want {
		if o.Delete {
			if snap.Object(o.Name) != nil {
				t.Errorf("%s: %s is still there after a Write that deleted it; rule: %s", what, o.Name, ruleDelete)
			}
			continue
		}
		present[o.Name] = true
		if d := differs(o, snap.Object(o.Name), snap.Attributes); d != "" {
			t.Errorf("%s: %s: %s; rule: %s", what, o.Name, d, rule)
		}
	}
	for name := range snap.Objects {
		if !present[name] {
			t.Errorf("%s: Read returned %s, which was not written or was deleted; rule: %s", what, name, rule)
		}
	}
	return snap
}

func (s *suite) emptyRead(t *testing.T) {
	open := s.fresh(t)
	for _, what := range []string{"a fresh location", "a fresh location, read again with another handle"} {
		snap := read(t, open(nil), what)
		if msg := emptyProblem(snap); msg != "" {
			t.Errorf("%s: %s; rule: %s", what, msg, ruleEmpty)
		}
		if msg := namesProblem(snap.Names); msg != "" {
			t.Errorf("%s: %s; rule: %s", what, msg, ruleNames)
		}
	}
}

func (s *suite) readAfterWrite(t *testing.T) {
	l := s.newLocation(t)
	first := l.publish(t, pub("first", "k1"))
	snap := l.holds(t, first, ruleStored, "the location after the first Write")
	if snap.Revision == "" {
		t.Errorf("the location after the first Write has Revision \"\"; rule: %s (\"\" means nothing was there)", ruleRevision)
	}
	for _, o := range first {
		if live := snap.Object(o.Name); live != nil && !o.Same(live, snap.Attributes) {
			t.Errorf("%s: Object.Same reports the object just written as different (attributes %v); rule: %s", o.Name, snap.Attributes, ruleStored)
		}
	}
	second := l.publish(t, pub("second", "k1", "k2"))
	snap2 := l.holds(t, second, ruleStored, "the location after the second Write")
	if snap2.Revision == snap.Revision {
		t.Errorf("the Revision %q did not change when every object did; rule: %s", snap.Revision, ruleRevision)
	}
}

func (s *suite) unchanged(t *testing.T) {
	l := s.newLocation(t)
	l.publish(t, pub("first", "k1"))
	tg := l.open(nil)
	a := read(t, tg, "the location")
	b := read(t, tg, "the location, again with the same handle")
	c := read(t, l.open(nil), "the location, again with another handle")
	for _, other := range []struct {
		what string
		snap *target.Snapshot
	}{{"a second Read with the same handle", b}, {"a Read with another handle", c}} {
		if other.snap.Revision != a.Revision {
			t.Errorf("%s returned Revision %q, the first %q; rule: %s", other.what, other.snap.Revision, a.Revision, ruleStable)
		}
		if other.snap.Attributes != a.Attributes {
			t.Errorf("%s returned Attributes %v, the first %v; rule: %s", other.what, other.snap.Attributes, a.Attributes, ruleStable)
		}
		for _, name := range l.names.All() {
			x, y := a.Object(name), other.snap.Object(name)
			switch {
			case x == nil && y == nil:
			case x == nil || y == nil:
				t.Errorf("%s: %s is there in one Read and not in the other; rule: %s", other.what, name, ruleStable)
			default:
				if d := differs(*x, y, a.Attributes); d != "" {
					t.Errorf("%s: %s: %s; rule: %s", other.what, name, d, ruleStable)
				}
				if x.Revision != y.Revision {
					t.Errorf("%s: %s has object Revision %q, the first %q; rule: %s", other.what, name, y.Revision, x.Revision, ruleStable)
				}
			}
		}
	}
}

func (s *suite) delete(t *testing.T) {
	l := s.newLocation(t)
	full := pub("full", "k1")
	l.publish(t, full)
	before := read(t, l.open(nil), "the location before the delete")

	// The JWKS and the state rewritten with the same bytes, the others removed (gzip and
	// discovery turned off): only the removals change the location.
	removals := []string{l.names.Discovery}
	if l.names.Gzip != "" {
		removals = append([]string{l.names.Gzip}, removals...)
	}
	trimmed := func(p publication) []target.Object {
		var out []target.Object
		for _, o := range p.objects(l.names) {
			if slices.Contains(removals, o.Name) {
				o = deleted(o.Name)
			}
			out = append(out, o)
		}
		return out
	}
	tg := l.open(nil)
	write(t, tg, before, trimmed(full), "a publication that deletes "+strings.Join(removals, " and "))
	after := l.holds(t, trimmed(full), ruleDelete, "the location after the delete")
	if after.Revision == before.Revision {
		t.Errorf("the Revision %q did not change when %s were deleted; rule: %s", after.Revision, strings.Join(removals, " and "), ruleRevision)
	}

	// The same removals again, now of absent objects, with a new JWKS and state.
	again := trimmed(pub("again", "k1", "k2"))
	if err := tg.Write(t.Context(), read(t, tg, "the location after the delete"), again); err != nil {
		t.Errorf("Write deleting %s, which are absent: %v; rule: %s", strings.Join(removals, " and "), err, ruleDelete)
	} else {
		l.holds(t, again, ruleDelete, "the location after deleting absent objects")
	}

	// A first publication that deletes what never was.
	f := s.newLocation(t)
	first := trimmed(pub("first", "k1"))
	ftg := f.open(nil)
	if err := ftg.Write(t.Context(), read(t, ftg, "a fresh location"), first); err != nil {
		t.Errorf("a first Write deleting %s, which never existed: %v; rule: %s", strings.Join(removals, " and "), err, ruleDelete)
	} else {
		f.holds(t, first, ruleDelete, "a fresh location after a first Write with deletions")
	}
}

func (s *suite) conditionalWrite(t *testing.T) {
	l := s.newLocation(t)
	l.publish(t, pub("seed", "k1"))
	a, b := l.open(nil), l.open(nil)
	baseA := read(t, a, "the location by handle A")
	baseB := read(t, b, "the location by handle B")
	objsA := pub("A", "k1", "kA").objects(l.names)
	write(t, a, baseA, objsA, "A's publication")

	objsB := pub("B", "k1", "kB").objects(l.names)
	err := b.Write(t.Context(), baseB, objsB)
	switch {
	case err == nil:
		t.Errorf("B's Write from the base it read before A wrote returned nil; rule: %s", ruleCondition)
	case !errors.Is(err, target.ErrConflict):
		t.Errorf("B's Write from a stale base failed with an error that does not wrap target.ErrConflict: %v; rule: %s (the runner re-plans only on ErrConflict)", err, ruleCondition)
	}
	l.holds(t, objsA, ruleCondition, "the location after B's stale Write (it must hold A's publication)")

	// The runner re-plans once on a conflict: the same handle reads again and wins.
	if err := b.Write(t.Context(), read(t, b, "the location by handle B, again"), objsB); err != nil {
		t.Errorf("B's Write from a fresh Read after its conflict: %v; rule: %s", err, ruleCondition)
	} else {
		l.holds(t, objsB, ruleStored, "the location after B's second Write")
	}
}

func (s *suite) firstCreationRace(t *testing.T) {
	const rounds = 3
	for round := range rounds {
		l := s.newLocation(t)
		handles := []target.Target{l.open(nil), l.open(nil)}
		var bases []*target.Snapshot
		var objs [][]target.Object
		for i, h := range handles {
			bases = append(bases, read(t, h, fmt.Sprintf("the fresh location by creator %d", i)))
			objs = append(objs, pub(fmt.Sprintf("creator%d", i), fmt.Sprintf("k%d", i)).objects(l.names))
		}
		errs := make([]error, len(handles))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, h := range handles {
			wg.Go(func() {
				<-start
				errs[i] = h.Write(t.Context(), bases[i], objs[i])
			})
		}
		close(start)
		wg.Wait()

		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, target.ErrConflict):
				t.Errorf("round %d: creator %d failed with an error that does not wrap target.ErrConflict: %v; rule: %s", round, i, err, ruleCondition)
			}
		}
		switch len(winners) {
		case 1:
			l.holds(t, objs[winners[0]], ruleCondition, fmt.Sprintf("round %d: the location after the race (it must hold the winner's, creator %d's, publication)", round, winners[0]))
		case 0:
			t.Errorf("round %d: both creators of a fresh location failed (%v; %v); rule: %s (one of them must win)", round, errs[0], errs[1], ruleCondition)
		default:
			t.Errorf("round %d: both creators' Writes from an empty base returned nil; rule: %s (the second must find the first's objects and get ErrConflict)", round, ruleCondition)
			l.sameWriter(t, fmt.Sprintf("round %d", round))
		}
	}
}

// sameWriter checks that what a location holds came from one publication, JWKS and state.
func (l *location) sameWriter(t *testing.T, what string) {
	t.Helper()
	snap := read(t, l.open(nil), "the location after the race")
	j, st := snap.Object(l.names.JWKS), snap.Object(l.names.State)
	if j == nil || st == nil {
		t.Errorf("%s: the JWKS or the state is absent after the race; rule: %s", what, ruleWhole)
		return
	}
	jk, err1 := jwksKids(j.Body)
	sk, err2 := stateKids(st.Body)
	if err := errors.Join(err1, err2); err != nil {
		t.Errorf("%s: %v; rule: %s", what, err, ruleWhole)
		return
	}
	if !slices.Equal(jk, sk) {
		t.Errorf("%s: the JWKS lists %q but the state %q: they come from different writers; rule: %s", what, jk, sk, ruleCondition)
	}
}

// racer is one publisher of the Racers test.
type racer struct {
	marker   string
	won      bool
	attempts int
	err      error
}

func (s *suite) racersTest(t *testing.T) {
	l := s.newLocation(t)
	l.publish(t, pub("seed", "seed"))
	racers := make([]*racer, s.racers)
	handles := make([]target.Target, s.racers)
	for i := range racers {
		racers[i] = &racer{marker: fmt.Sprintf("racer%02d", i)}
		handles[i] = l.open(nil)
	}
	// Every racer reads before any writes: the first round is a real race whatever the
	// scheduler does.
	var firstRead, done sync.WaitGroup
	firstRead.Add(len(racers))
	for i, r := range racers {
		done.Go(func() { r.run(t.Context(), handles[i], l.names, &firstRead) })
	}
	done.Wait()

	final := read(t, l.open(nil), "the location after the race")
	j, st := final.Object(l.names.JWKS), final.Object(l.names.State)
	if j == nil || st == nil {
		t.Fatalf("the JWKS or the state object is absent after the race; rule: %s", ruleWhole)
	}
	jk, err1 := jwksKids(j.Body)
	sk, err2 := stateKids(st.Body)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("after the race: %v; rule: %s", err, ruleWhole)
	}
	if gz := l.names.Gzip; gz != "" {
		if o := final.Object(gz); o == nil || !slices.Equal(o.Body, gzipBody(j.Body)) {
			t.Errorf("after the race %s is not the gzip of the JWKS; rule: %s", gz, ruleCondition)
		}
	}
	winners := []string{"seed"}
	for _, r := range racers {
		switch {
		case r.err != nil:
			t.Errorf("%s: %v", r.marker, r.err)
		case !r.won:
			t.Errorf("%s got ErrConflict at each of its %d attempts; rule: %s (each conflict means another writer won, so with %d racers every one wins in time)", r.marker, r.attempts, ruleCondition, len(racers))
		default:
			winners = append(winners, r.marker)
		}
	}
	for _, w := range winners {
		if !slices.Contains(jk, w) {
			t.Errorf("lost update: %s's Write returned nil but the JWKS has no key %s (it lists %q); rule: %s", w, w, jk, ruleCondition)
		}
		if !slices.Contains(sk, w) {
			t.Errorf("lost update: %s's Write returned nil but the state does not list %s (it lists %q); rule: %s", w, w, sk, ruleCondition)
		}
	}
	for _, k := range sk {
		if !slices.Contains(jk, k) {
			t.Errorf("the state lists %s but the JWKS has no such key: the state is ahead of the document; rule: %s", k, ruleOrder)
		}
	}
	if len(winners) == len(racers)+1 && !slices.Equal(jk, sk) {
		t.Errorf("every racer won but the JWKS lists %q and the state %q; rule: %s", jk, sk, ruleCondition)
	}
	attempts := 0
	for _, r := range racers {
		attempts += r.attempts
	}
	t.Logf("%d racers won after %d attempts in all", len(winners)-1, attempts)
}

// maxAttempts bounds a racer's retries: with N racers a correct target lets each win within N
// attempts, so this only ends a target that conflicts forever.
const maxAttempts = 50

// run reads and writes until its Write wins: the JWKS and the state each gain r's marker.
// It reports through r, never t, since it runs on its own goroutine.
func (r *racer) run(ctx context.Context, tg target.Target, n target.Names, firstRead *sync.WaitGroup) {
	arrive := sync.OnceFunc(firstRead.Done)
	defer arrive()
	for r.attempts < maxAttempts {
		r.attempts++
		snap, err := tg.Read(ctx)
		if err != nil {
			r.err = fmt.Errorf("Read during the race (attempt %d): %w", r.attempts, err)
			return
		}
		j, st := snap.Object(n.JWKS), snap.Object(n.State)
		if j == nil || st == nil {
			r.err = fmt.Errorf("attempt %d read no JWKS or no state while others wrote; rule: %s", r.attempts, ruleWhole)
			return
		}
		jk, err1 := jwksKids(j.Body)
		sk, err2 := stateKids(st.Body)
		if err := errors.Join(err1, err2); err != nil {
			r.err = fmt.Errorf("attempt %d read while others wrote: %w; rule: %s", r.attempts, err, ruleWhole)
			return
		}
		p := publication{label: r.marker, jwksKids: append(jk, r.marker), stateKids: append(sk, r.marker)}
		arrive()
		firstRead.Wait()
		err = tg.Write(ctx, snap, p.objects(n))
		switch {
		case err == nil:
			r.won = true
			return
		case !errors.Is(err, target.ErrConflict):
			r.err = fmt.Errorf("Write during the race (attempt %d) failed with an error that does not wrap target.ErrConflict: %w; rule: %s", r.attempts, err, ruleCondition)
			return
		}
		time.Sleep(rand.N(2 * time.Millisecond))
	}
}

func (s *suite) interruptedWrite(t *testing.T) {
	oldPub := pub("old", "k1")
	newPub := pub("new", "k1", "k2")

	// Count the write points of a full write over an existing publication.
	l := s.newLocation(t)
	l.publish(t, oldPub)
	var mu sync.Mutex
	var points []string
	tg := l.open(func(p string) {
		mu.Lock()
		defer mu.Unlock()
		points = append(points, p)
	})
	write(t, tg, read(t, tg, "the location"), newPub.objects(l.names), "the new publication over the old")
	mu.Lock()
	counted := slices.Clone(points)
	mu.Unlock()
	if len(counted) == 0 {
		t.Fatal("the target reported no write points during a full Write (fix: the harness's opener must pass onWrite to the target, which must call it at each write point)")
	}
	t.Logf("write points: %q", counted)

	t.Run("cancelled_before_Write", func(t *testing.T) { s.interruptAt(t, oldPub, newPub, 0) })
	for k := range counted {
		t.Run(fmt.Sprintf("cancelled_at_point_%d", k+1), func(t *testing.T) { s.interruptAt(t, oldPub, newPub, k+1) })
	}
}

// interruptAt writes newPub over oldPub with a context cancelled at write point k (1-based;
// 0: before Write), then checks what a next run would find and that it can repair it.
func (s *suite) interruptAt(t *testing.T, oldPub, newPub publication, k int) {
	l := s.newLocation(t)
	l.publish(t, oldPub)
	oldObjs, newObjs := oldPub.objects(l.names), newPub.objects(l.names)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	calls, at := 0, ""
	tg := l.open(func(p string) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == k {
			at = p
			cancel()
		}
	})
	base := read(t, tg, "the location")
	if k == 0 {
		cancel()
	}
	err := tg.Write(ctx, base, newObjs)
	cancel()
	mu.Lock()
	if k > 0 && at == "" {
		t.Logf("this Write reported only %d write points; it was not interrupted", calls)
	}
	t.Logf("cancelled at %q; Write returned %v", at, err)
	mu.Unlock()

	what := "the next Read after a Write interrupted"
	if at != "" {
		what += " at " + at
	}
	next := l.open(nil)
	snap, rerr := next.Read(t.Context())
	if rerr != nil {
		t.Fatalf("%s failed: %v; rule: %s", what, rerr, ruleRepair)
	}
	if snap.Object(l.names.JWKS) == nil {
		t.Errorf("%s: the JWKS is absent; rule: %s", what, ruleJWKS)
	}
	fresh := make([]bool, len(newObjs))
	for i, o := range newObjs {
		live := snap.Object(o.Name)
		dNew := differs(o, live, snap.Attributes)
		fresh[i] = dNew == ""
		if fresh[i] {
			continue
		}
		if err == nil {
			t.Errorf("%s: Write returned nil, but %s is not the new version: %s; rule: %s", what, o.Name, dNew, ruleNil)
		}
		if live == nil {
			if o.Name != l.names.JWKS {
				t.Errorf("%s: %s is absent, neither the old nor the new version; rule: %s", what, o.Name, ruleWhole)
			}
			continue
		}
		if dOld := differs(oldObjs[i], live, snap.Attributes); dOld != "" {
			t.Errorf("%s: %s is neither the old version (%s) nor the new (%s); rule: %s", what, o.Name, dOld, dNew, ruleWhole)
		}
	}
	for j := range newObjs {
		for i := range j {
			if fresh[j] && !fresh[i] {
				t.Errorf("%s: %s is the new version but %s, given before it, is not; rule: %s", what, newObjs[j].Name, newObjs[i].Name, ruleOrder)
			}
		}
	}
	for name := range snap.Objects {
		if !slices.Contains(l.names.All(), name) {
			t.Errorf("%s: Read returned %s, not one of the set's objects %q", what, name, l.names.All())
		}
	}

	// The next run writes the new publication from what it read.
	if err := next.Write(t.Context(), snap, newObjs); err != nil {
		t.Fatalf("the Write of the next run, from the Read after the interruption: %v; rule: %s", err, ruleRepair)
	}
	l.holds(t, newObjs, ruleRepair, "the location after the next run's Write")
}

func (s *suite) bigObject(t *testing.T) {
	l := s.newLocation(t)
	body := bigJWKS(target.MaxObjectSize - 1)
	if len(body) != target.MaxObjectSize-1 {
		t.Fatalf("targettest built a JWKS of %d bytes, want %d", len(body), target.MaxObjectSize-1)
	}
	objs := publication{label: "big", jwks: body, stateKids: []string{"big"}}.objects(l.names)
	l.publish(t, publication{label: "small", jwksKids: []string{"k1"}, stateKids: []string{"k1"}})
	tg := l.open(nil)
	write(t, tg, read(t, tg, "the location"), objs, fmt.Sprintf("a JWKS of %d bytes (target.MaxObjectSize-1)", len(body)))
	l.holds(t, objs, ruleSize, "the location after writing the big JWKS")
}
