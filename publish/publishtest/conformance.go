// Package publishtest holds the publication suite every target runs through the runner: the
// same behaviour (first publication, idempotence, rotation, headers, read back, the discovery
// document and the state object) checked through plan, guard and apply. The target contract
// itself (revisions, conflicts, races, interrupted writes) is targettest's.
package publishtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target"
)

// Keys returns an Ed25519 set made from seeds, kid "k<seed>", every key from the source spec
// "file:keys/*.pem", so that a new key supersedes the older ones.
func Keys(t testing.TB, seeds ...byte) *jwks.Set {
	t.Helper()
	return testkeys.Rot(t, seeds...)
}

// TargetConformance runs the suite. newTarget returns a fresh, empty target whose JWKS is
// jwks.json in a directory named .well-known.
func TargetConformance(t *testing.T, newTarget func(t *testing.T) publish.Destination) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mtl := rotation.Duration(24 * time.Hour)
	cfg := func() *config.SetConfig {
		return &config.SetConfig{Name: "conformance", Issuer: "https://issuer.example.com",
			Output:   config.Output{CacheControl: "public, max-age=60", ContentType: "application/jwk-set+json"},
			Rotation: rotation.Rules{MaxTokenLifetime: mtl}}
	}
	run := func(t *testing.T, tg publish.Destination, c *config.SetConfig, keys *jwks.Set, now time.Time) *publish.Plan {
		t.Helper()
		p, err := publish.PlanTarget(ctx, tg, publish.PlanOptions{Set: c, Keys: keys, Now: now, Version: "conformance"})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if err := publish.Guard([]*publish.Plan{p}, publish.GuardOptions{}); err != nil {
			t.Fatalf("guard: %v", err)
		}
		if err := publish.Apply(ctx, p); err != nil {
			t.Fatalf("apply: %v", err)
		}
		return p
	}
	read := func(t *testing.T, tg publish.Destination) *target.Snapshot {
		t.Helper()
		s, err := tg.Target.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return s
	}

	t.Run("first publication, stored with headers and metadata", func(t *testing.T) {
		tg := newTarget(t)
		keys := Keys(t, 1)
		p := run(t, tg, cfg(), keys, t0)
		if !p.First || !p.Changed() {
			t.Fatalf("plan: first=%v objects=%v", p.First, p.Objects)
		}
		want, _ := jwks.Encode(keys, false)
		s := read(t, tg)
		doc := s.Object(s.Names.JWKS)
		if doc == nil || !bytes.Equal(doc.Body, want) {
			t.Fatalf("stored %+v, want %q", doc, want)
		}
		if s.Attributes && (doc.CacheControl != "public, max-age=60" || doc.ContentType != "application/jwk-set+json" ||
			doc.Metadata[target.MetaSHA256] != doc.SHA256()) {
			t.Errorf("attributes: cache-control %q, content-type %q, metadata %v", doc.CacheControl, doc.ContentType, doc.Metadata)
		}
		for _, name := range []string{s.Names.State, s.Names.Discovery} {
			if s.Object(name) == nil {
				t.Errorf("%s not written", name)
			}
		}
	})

	t.Run("unchanged publication writes nothing", func(t *testing.T) {
		tg := newTarget(t)
		run(t, tg, cfg(), Keys(t, 1), t0)
		before := read(t, tg)
		p := run(t, tg, cfg(), Keys(t, 1), t0.Add(time.Hour))
		if p.Changed() {
			t.Fatalf("unchanged set planned %v", p.Objects)
		}
		if after := read(t, tg); after.Revision != before.Revision {
			t.Errorf("target rewritten: revision %s -> %s", before.Revision, after.Revision)
		}
	})

	t.Run("rotation: add, then remove once safe", func(t *testing.T) {
		tg := newTarget(t)
		c := cfg()
		run(t, tg, c, Keys(t, 1), t0)
		p := run(t, tg, c, Keys(t, 1, 2), t0.Add(time.Hour))
		if a, r, ch := p.Count(); a != 1 || r != 0 || ch != 0 {
			t.Fatalf("add: %d added %d removed %d changed", a, r, ch)
		}
		early, err := publish.PlanTarget(ctx, tg, publish.PlanOptions{Set: c, Keys: Keys(t, 2), Now: t0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := publish.Guard([]*publish.Plan{early}, publish.GuardOptions{}); err == nil {
			t.Fatal("the guard let k1 go an hour after its successor")
		}
		run(t, tg, c, Keys(t, 2), t0.Add(time.Hour+time.Minute+24*time.Hour))
		tl, err := publish.ReadTimeline(ctx, tg, c, t0.Add(26*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if tl.SignWith != "k2" || len(tl.Keys) != 2 || tl.Keys[0].Retired == nil {
			t.Errorf("timeline after rotation: %+v", tl)
		}
	})

	t.Run("header and discovery changes", func(t *testing.T) {
		tg := newTarget(t)
		c := cfg()
		run(t, tg, c, Keys(t, 1), t0)
		c.Output.CacheControl = "public, max-age=300, stale-while-revalidate=30"
		c.Issuer = ""
		wantHeaders := 0 // a directory keeps no headers: its web server's configuration does
		if read(t, tg).Attributes {
			wantHeaders = 1
		}
		p := run(t, tg, c, Keys(t, 1), t0)
		if len(p.Headers) != wantHeaders || p.Discovery != publish.ActionRemove {
			t.Fatalf("plan: headers %v discovery %q", p.Headers, p.Discovery)
		}
		s := read(t, tg)
		if doc := s.Object(s.Names.JWKS); s.Attributes && doc.CacheControl != "public, max-age=300, stale-while-revalidate=30" {
			t.Errorf("cache-control %q", doc.CacheControl)
		}
		if s.Object(s.Names.Discovery) != nil {
			t.Error("discovery document not deleted")
		}
	})
}
