package publish

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// A removal that only --allow-removal let through is recorded in the state written with it,
// naming the actor; one the rules allow on their own is not.
func TestPublishRecordsAllowedRemoval(t *testing.T) {
	cfg := testSet("prod")
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	publishWith := func(keys []byte, now time.Time, g GuardOptions) *rotation.State {
		t.Helper()
		p, err := PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: orderedKeys(t, keys...), Now: now, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if err := Guard([]*Plan{p}, g); err != nil {
			t.Fatal(err)
		}
		if _, err := Publish(context.Background(), p, PublishOptions{Guard: g}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, ".well-known", "jwks.json.state.json"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := rotation.ParseState(b)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	publishWith([]byte{1, 2, 3}, t0, GuardOptions{})
	// k1 is superseded at t0 but tokens live a day: removing it an hour later needs the override.
	st := publishWith([]byte{2, 3}, t0.Add(time.Hour), GuardOptions{AllowRemoval: []string{"k1"}, Actor: "alice"})
	o := st.Key("k1").RemovalAllowed
	if o == nil || o.By != "alice" || !o.At.Equal(t0.Add(time.Hour)) {
		t.Errorf("k1's removal recorded as %+v, want alice at %s", o, t0.Add(time.Hour))
	}
	// k2 is removable a day later: naming it anyway records nothing.
	st = publishWith([]byte{3}, t0.Add(26*time.Hour), GuardOptions{AllowRemoval: []string{"k2"}, Actor: "bob"})
	if o := st.Key("k2").RemovalAllowed; o != nil {
		t.Errorf("k2 removed by the rules, recorded %+v", o)
	}
	if st.Key("k1").RemovalAllowed == nil {
		t.Error("the earlier record was lost")
	}
}
