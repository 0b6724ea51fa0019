package report

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/golden"
	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target/file"
)

// t0 is the first publication, as in package publish's tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testSet(name string) *config.SetConfig {
	return &config.SetConfig{Name: name, Output: config.Output{CacheControl: "public, max-age=60"},
		Rotation: rotation.Rules{MaxTokenLifetime: rotation.Duration(24 * time.Hour)}}
}

// publishAt plans, guards and applies like `jwkspub publish` at the given time.
func publishAt(t *testing.T, d publish.Destination, cfg *config.SetConfig, keys *jwks.Set, now time.Time) {
	t.Helper()
	ctx := context.Background()
	p, err := publish.PlanTarget(ctx, d, publish.PlanOptions{Set: cfg, Keys: keys, Now: now, Version: "test"})
	if err == nil {
		err = publish.Guard([]*publish.Plan{p}, publish.GuardOptions{})
	}
	if err == nil {
		err = publish.Apply(ctx, p)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// rotated is a directory target where {k1} was published at t0 and {k1,k2} at t0+1h.
func rotated(t *testing.T, cfg *config.SetConfig) publish.Destination {
	t.Helper()
	wk := filepath.Join(t.TempDir(), ".well-known")
	ft, err := file.New(wk, "jwks.json", file.Options{CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	d := publish.Destination{URL: "file://" + filepath.ToSlash(filepath.Join(wk, "jwks.json")), Target: ft}
	publishAt(t, d, cfg, testkeys.Rot(t, 1), t0)
	publishAt(t, d, cfg, testkeys.Rot(t, 1, 2), t0.Add(time.Hour))
	return d
}

// TestPlanGolden pins the plan as a reviewer, a machine and a CI summary see it.
func TestPlanGolden(t *testing.T) {
	cfg := testSet("prod")
	cfg.Issuer = "https://auth.example.com"
	tg := rotated(t, cfg)
	next := testkeys.Rot(t, 1, 2, 3)
	cfg.Output.CacheControl = "public, max-age=300"
	p, err := publish.PlanTarget(context.Background(), tg, publish.PlanOptions{Set: cfg, Keys: next, Now: t0.Add(2 * time.Hour), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	p.Target = "file:///srv/www/.well-known/jwks.json"
	unchanged := &publish.Plan{Set: "other", Target: "file:///srv/other/jwks.json", Keys: []publish.KeyChange{{KID: "a", Action: publish.ActionKeep, Alg: "EdDSA"}}}
	plans := []*publish.Plan{p, unchanged}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"plan.txt", func(b *bytes.Buffer) error { return WritePlanText(b, plans) }},
		{"plan.json", func(b *bytes.Buffer) error { return WriteJSON(b, NewPlanReport(plans, publish.Verdict{}, nil)) }},
		{"plan.md", func(b *bytes.Buffer) error { return WritePlanMarkdown(b, "jwkspub diff", plans) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, f.name, b.Bytes())
	}
}

// TestTimelineGolden pins jwkspub status's text after the add → wait → switch → wait → remove
// procedure: k1 retired at t0+48h, k2 what to sign with.
func TestTimelineGolden(t *testing.T) {
	cfg := testSet("prod")
	tg := rotated(t, cfg)
	publishAt(t, tg, cfg, testkeys.Rot(t, 2), t0.Add(48*time.Hour))
	tl, err := publish.ReadTimeline(context.Background(), tg, cfg, t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tl.Target = "file:///srv/www/.well-known/jwks.json"
	var out bytes.Buffer
	if err := WriteTimelineText(&out, []*rotation.Timeline{tl}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "timeline.txt", out.Bytes())
	out.Reset()
	if err := WriteJSON(&out, NewStatusReport(t0.Add(48*time.Hour), []*rotation.Timeline{tl}, nil)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "status.json", out.Bytes())
}

// TestRefusedPlanGolden pins the verdict in a refused diff's JSON: removing k1 an hour after
// k2 appeared is too early; the other set's plan is not refused, and nothing reads as changed.
func TestRefusedPlanGolden(t *testing.T) {
	cfg := testSet("prod")
	tg := rotated(t, cfg)
	p, err := publish.PlanTarget(context.Background(), tg, publish.PlanOptions{Set: cfg, Keys: testkeys.Rot(t, 2), Now: t0.Add(2 * time.Hour), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	v := publish.Judge([]*publish.Plan{p}, publish.GuardOptions{})
	// The target's temporary path is in the verdict too: name it as the golden file does.
	p.Target = "file:///srv/www/.well-known/jwks.json"
	for i := range v.Refused {
		v.Refused[i].Target = p.Target
	}
	other := &publish.Plan{Set: "other", Target: "file:///srv/other/jwks.json", Keys: []publish.KeyChange{{KID: "a", Action: publish.ActionAdd, Alg: "EdDSA"}},
		Objects: []publish.ObjectChange{{Key: "jwks.json", Action: publish.ActionWrite}}}
	stale := []publish.Stale{{Set: "third", Target: "s3://gone/jwks.json", Err: errors.New("set \"third\": reading s3://gone/jwks.json: no such bucket")}}
	r := NewPlanReport([]*publish.Plan{p, other}, v, stale)
	if !r.Refused || r.Changed || !r.Plans[0].Refused || r.Plans[1].Refused {
		t.Errorf("refused %v changed %v plans refused %v %v", r.Refused, r.Changed, r.Plans[0].Refused, r.Plans[1].Refused)
	}
	var out bytes.Buffer
	if err := WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "plan-refused.json", out.Bytes())
	out.Reset()
	if err := WriteVerdictMarkdown(&out, v); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "verdict-refused.md", out.Bytes())
	out.Reset()
	if err := WriteVerdictMarkdown(&out, publish.Verdict{}); err != nil || out.Len() != 0 {
		t.Errorf("an empty verdict wrote %q (%v)", out.String(), err)
	}
}

func TestRelative(t *testing.T) {
	now := t0
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "now"},
		{500 * time.Millisecond, "now"},
		{45 * time.Second, "in 45s"},
		{-45 * time.Second, "45s ago"},
		{6 * time.Minute, "in 6m"},
		{6*time.Minute + 30*time.Second, "in 6m 30s"},
		{-3 * time.Hour, "3h ago"},
		{23*time.Hour + 59*time.Minute + 59*time.Second, "in 23h 59m"},
		{24 * time.Hour, "in 1d"},
		{-(49*time.Hour + 5*time.Minute), "2d 1h ago"},
	} {
		if got := relative(now.Add(tt.d), now); got != tt.want {
			t.Errorf("relative(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
