package publish

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// TestGuardHugeLiveCacheControl: a live document served with a huge max-age and
// stale-while-revalidate (written by hand, or by an older jwkspub) must make removals wait
// longer, never allow them at once.
func TestGuardHugeLiveCacheControl(t *testing.T) {
	cfg := testSet("prod")
	cfg.Output.CacheControl = "public, max-age=9300000000, stale-while-revalidate=9300000000"
	tg := rotated(t, cfg) // k1 superseded at t0+1h
	removable := t0.Add(time.Hour + 60*time.Second + 24*time.Hour)
	_, err := publishAt(t, tg, cfg, rotKeys(t, 2), removable.Add(1000*time.Hour), GuardOptions{})
	var ge *GuardError
	if !errors.As(err, &ge) || len(ge.Violations) != 1 || ge.Violations[0].Rule != rotation.RuleTooEarly {
		t.Fatalf("err = %v, want removal-too-early", err)
	}
	tl, err := ReadTimeline(context.Background(), tg, cfg, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range tl.Keys {
		if k.SafeFrom.Before(k.FirstPublished) {
			t.Errorf("kid %s safe to sign with from %s, before it was published (%s)", k.KID, k.SafeFrom, k.FirstPublished)
		}
		if k.RemovableFrom != nil && k.RemovableFrom.Before(*k.Superseded) {
			t.Errorf("kid %s removable from %s, before it was superseded (%s)", k.KID, k.RemovableFrom, k.Superseded)
		}
	}
	if tl.SignWith != "" {
		t.Errorf("sign with %q an hour after publication, with a cache lifetime of 136 years", tl.SignWith)
	}
}
