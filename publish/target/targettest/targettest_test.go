package targettest_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/targettest"
)

// harness opens in-memory locations whose targets have names n and the given flaws.
func harness(n target.Names, attrs bool, f flaws) targettest.Harness {
	return targettest.Harness{Fresh: func(t *testing.T) func(onWrite func(string)) target.Target {
		s := &store{objs: map[string]target.Object{}}
		return func(onWrite func(string)) target.Target {
			return &mem{s: s, names: n, attrs: attrs, onWrite: onWrite, f: f}
		}
	}}
}

// TestReference runs the suite against the reference target, the way every target runs it,
// in the two shapes targets come in: an object store (attributes, no gzip sibling) and a
// directory (no attributes, a .gz sibling).
func TestReference(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names target.Names
		attrs bool
	}{
		{"attributes", target.NamesFor(".well-known/jwks.json", false), true},
		{"directory", target.NamesFor("jwks.json", true), false},
	} {
		t.Run(tc.name, func(t *testing.T) { targettest.Run(t, harness(tc.names, tc.attrs, flaws{})) })
	}
}

// broken lists flawed targets and the subtests each must fail (and only those: the others
// pass), with a phrase of the rule the failure must quote.
var broken = map[string]struct {
	f     flaws
	attrs bool
	fails []string
	says  string
}{
	"ignoreBase": {f: flaws{ignoreBase: true}, attrs: true,
		fails: []string{"ConditionalWrite", "FirstCreationRace", "Racers"}, says: "lost update"},
	"unwrappedConflict": {f: flaws{unwrappedConflict: true}, attrs: true,
		fails: []string{"ConditionalWrite", "FirstCreationRace", "Racers"}, says: "does not wrap target.ErrConflict"},
	"deleteJWKSFirst": {f: flaws{deleteJWKSFirst: true}, attrs: true,
		fails: []string{"InterruptedWrite"}, says: "the JWKS is absent"},
	"tornObjects": {f: flaws{tornObjects: true}, attrs: true,
		fails: []string{"InterruptedWrite"}, says: "neither the old version"},
	"stateFirst": {f: flaws{stateFirst: true}, attrs: true,
		fails: []string{"InterruptedWrite"}, says: "in the order given"},
	"leakLock": {f: flaws{leakLock: true}, attrs: true,
		fails: []string{"InterruptedWrite"}, says: "the Write of the next run"},
	"revisionPerRead": {f: flaws{revisionPerRead: true}, attrs: true,
		fails: []string{"Unchanged"}, says: "with no write in between"},
	"emptyRevision": {f: flaws{emptyRevision: true}, attrs: true,
		fails: []string{"EmptyRead"}, says: `want ""`},
	"deleteAbsentFails": {f: flaws{deleteAbsentFails: true}, attrs: true,
		fails: []string{"Delete"}, says: "removing an absent object is not an error"},
	"truncateBig": {f: flaws{truncateAbove: 1 << 20}, attrs: true,
		fails: []string{"BigObject"}, says: "up to target.MaxObjectSize"},
	"checkThenWrite": {f: flaws{checkThenWrite: true}, attrs: true,
		fails: []string{"FirstCreationRace", "Racers"}, says: "lost update"},
	"nilOnCancel": {f: flaws{nilOnCancel: true}, attrs: true,
		fails: []string{"InterruptedWrite"}, says: "a Write that returns nil has stored every object"},
	"dropHeaders": {f: flaws{dropHeaders: true}, attrs: true,
		fails: []string{"ReadAfterWrite", "Delete", "ConditionalWrite", "FirstCreationRace", "InterruptedWrite", "BigObject"},
		says:  `Cache-Control is "", want "public, max-age=300"`},
}

// brokenEnv names the flawed target TestBrokenChild runs the suite against, in a child
// process: a subtest that fails is the point there, and would fail the parent here.
const brokenEnv = "JWKSPUB_TARGETTEST_BROKEN"

// TestBrokenChild is run by TestBrokenTargetsFail in a child process.
func TestBrokenChild(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestBrokenTargetsFail in a child process")
	}
	b, ok := broken[name]
	if !ok {
		t.Fatalf("%s=%q: no such flawed target", brokenEnv, name)
	}
	targettest.Run(t, harness(target.NamesFor("jwks.json", true), b.attrs, b.f))
}

var resultLine = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): TestBrokenChild/(\w+) \(`)

// TestBrokenTargetsFail proves the suite can fail: each flawed target fails exactly the
// subtests of the rule it breaks, with a message that quotes the rule.
func TestBrokenTargetsFail(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in the child process")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenChild$", "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a target with the flaw %s; output:\n%s", name, out)
			}
			var failed, passed []string
			for _, m := range resultLine.FindAllStringSubmatch(string(out), -1) {
				switch m[1] {
				case "FAIL":
					failed = append(failed, m[2])
				case "PASS":
					passed = append(passed, m[2])
				}
			}
			slices.Sort(failed)
			want := slices.Sorted(slices.Values(b.fails))
			if !slices.Equal(failed, want) {
				t.Errorf("with the flaw %s the suite failed %q, want %q (passed %q); output:\n%s", name, failed, want, passed, out)
			}
			if len(failed)+len(passed) != 9 {
				t.Errorf("with the flaw %s %d subtests reported, want 9; output:\n%s", name, len(failed)+len(passed), out)
			}
			if !strings.Contains(string(out), b.says) {
				t.Errorf("with the flaw %s no failure says %q; output:\n%s", name, b.says, out)
			}
		})
	}
}
