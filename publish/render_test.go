package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/templates"
)

// renderAt plans, guards and writes a render into dir at now, as `jwkspub render` does.
func renderAt(t *testing.T, dir string, keys *jwks.Set, now time.Time, g GuardOptions) (*RenderPlan, error) {
	t.Helper()
	rp, err := PlanRender(context.Background(), RenderOptions{Set: testSet("prod"), Keys: keys, Dir: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	files, err := rp.Render(templates.Defaults(), g)
	if err != nil {
		return rp, err
	}
	if err := WriteContext(context.Background(), dir, files); err != nil {
		t.Fatal(err)
	}
	return rp, nil
}

func readState(t *testing.T, dir string) *rotation.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ContextState))
	if err != nil {
		t.Fatal(err)
	}
	st, err := rotation.ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Renders are judged like publications, with the state carried in the directory: the first is
// a first publication, a change sharing no key is refused with nothing written, a proper
// rotation supersedes, and an optional source that is down keeps what the earlier render
// published from it.
func TestRenderGuard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctx")
	rp, err := renderAt(t, dir, orderedKeys(t, 1), t0, GuardOptions{})
	if err != nil || !rp.First {
		t.Fatalf("first render: first %v, %v", rp.First, err)
	}
	doc := filepath.Join(dir, filepath.FromSlash(ContextJWKS))
	before, _ := os.ReadFile(doc)
	beforeState, _ := os.ReadFile(filepath.Join(dir, ContextState))

	_, err = renderAt(t, dir, orderedKeys(t, 2), t0.Add(time.Hour), GuardOptions{})
	var ge *GuardError
	if !errors.As(err, &ge) || len(ge.Violations) != 2 || ge.Violations[0].Rule != rotation.RuleNoSharedKey || ge.Violations[0].Target != dir {
		t.Fatalf("replacing every key: %v, want no-shared-key and no-successor at %s", err, dir)
	}
	after, _ := os.ReadFile(doc)
	afterState, _ := os.ReadFile(filepath.Join(dir, ContextState))
	if string(after) != string(before) || string(afterState) != string(beforeState) {
		t.Error("a refused render changed the directory")
	}

	rp, err = renderAt(t, dir, orderedKeys(t, 1, 2), t0.Add(time.Hour), GuardOptions{})
	if err != nil || rp.First || actions(rp.Plans[0]) != "k1:keep k2:add" {
		t.Fatalf("rotation: %v, first %v", err, rp.First)
	}
	if st := readState(t, dir); st.Key("k1").Superseded == nil || !st.Key("k1").FirstPublished.Equal(t0) || st.Key("k2").Version != 2 {
		t.Errorf("state after the rotation: %+v", st.Keys)
	}

	// Every source down (kept keys come from the state's record of the source).
	down := &jwks.Set{Unavailable: []string{"file:keys/*.pem"}}
	if _, err := renderAt(t, dir, down, t0.Add(2*time.Hour), GuardOptions{}); err != nil {
		t.Fatalf("render with the source down: %v", err)
	}
	if st := readState(t, dir); st.Key("k1").Retired != nil || st.Key("k2").Retired != nil || st.Key("k2").Version != 2 {
		t.Errorf("keys of the unavailable source not kept: %+v", st.Keys)
	}

	// Too early, then allowed by name: recorded.
	if _, err := renderAt(t, dir, orderedKeys(t, 2), t0.Add(3*time.Hour), GuardOptions{}); !errors.As(err, &ge) || ge.Violations[0].Rule != rotation.RuleTooEarly {
		t.Fatalf("early removal: %v", err)
	}
	if _, err := renderAt(t, dir, orderedKeys(t, 2), t0.Add(3*time.Hour), GuardOptions{AllowRemoval: []string{"k1"}, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if o := readState(t, dir).Key("k1").RemovalAllowed; o == nil || o.By != "alice" {
		t.Errorf("override recorded as %+v", o)
	}
}

// An earlier render that is not what render writes (a directory where the JWKS should be) is
// an error, never a fresh start.
func TestRenderStrayFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(ContextJWKS)), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := PlanRender(context.Background(), RenderOptions{Set: testSet("prod"), Keys: orderedKeys(t, 1), Dir: dir, Now: t0})
	if err == nil {
		t.Fatal("a directory in place of the JWKS was read as a fresh context")
	}
}
