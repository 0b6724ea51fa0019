// Package publishtest holds the conformance suite every publish target runs: the same
// behaviour (first publication, idempotence, rotation, headers, read back, the discovery
// document and the state object) checked against each gocloud.dev driver jwkspub writes to.
package publishtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/sources"
)

// Keys returns an Ed25519 set made from seeds, kid "k<seed>", every key from the source spec
// "file:keys/*.pem", so that a new key supersedes the older ones.
func Keys(t testing.TB, seeds ...byte) *publish.Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", s),
			Origin: sources.Origin{Source: fmt.Sprintf("file:keys/k%d.pem", s)}})
	}
	set, err := publish.Assemble(keys, publish.AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Keys {
		set.Keys[i].Spec = "file:keys/*.pem"
	}
	return set
}

// TargetConformance runs the suite. newTarget returns a fresh, empty target whose key is
// ".well-known/jwks.json" (or "jwks.json" in a directory named .well-known) in a bucket the
// caller opened and closes.
func TargetConformance(t *testing.T, newTarget func(t *testing.T) *publish.Target) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mtl := publish.Duration(24 * time.Hour)
	cfg := func() *publish.SetConfig {
		return &publish.SetConfig{Name: "conformance", Issuer: "https://issuer.example.com",
			Output:   publish.Output{CacheControl: "public, max-age=60", ContentType: "application/jwk-set+json"},
			Rotation: publish.Rotation{MaxTokenLifetime: mtl}}
	}
	run := func(t *testing.T, tg *publish.Target, c *publish.SetConfig, keys *publish.Set, now time.Time) *publish.Plan {
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

	t.Run("first publication, stored with headers and metadata", func(t *testing.T) {
		tg := newTarget(t)
		keys := Keys(t, 1)
		p := run(t, tg, cfg(), keys, t0)
		if !p.First || !p.Changed() {
			t.Fatalf("plan: first=%v objects=%v", p.First, p.Objects)
		}
		want, _ := publish.Encode(keys, false)
		got, err := tg.Bucket.ReadAll(ctx, tg.Key)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stored %q (%v), want %q", got, err, want)
		}
		attrs, err := tg.Bucket.Attributes(ctx, tg.Key)
		if err != nil {
			t.Fatal(err)
		}
		if attrs.CacheControl != "public, max-age=60" || attrs.ContentType != "application/jwk-set+json" ||
			attrs.Metadata[publish.MetaSHA256] == "" || attrs.Metadata[publish.MetaVersion] != "conformance" {
			t.Errorf("attributes: cache-control %q, content-type %q, metadata %v", attrs.CacheControl, attrs.ContentType, attrs.Metadata)
		}
		for _, key := range []string{tg.StateKey(), tg.DiscoveryKey()} {
			if ok, err := tg.Bucket.Exists(ctx, key); !ok || err != nil {
				t.Errorf("%s not written: %v", key, err)
			}
		}
	})

	t.Run("unchanged publication writes nothing", func(t *testing.T) {
		tg := newTarget(t)
		run(t, tg, cfg(), Keys(t, 1), t0)
		before, _ := tg.Bucket.Attributes(ctx, tg.Key)
		p := run(t, tg, cfg(), Keys(t, 1), t0.Add(time.Hour))
		if p.Changed() {
			t.Fatalf("unchanged set planned %v", p.Objects)
		}
		after, _ := tg.Bucket.Attributes(ctx, tg.Key)
		if before.ETag != after.ETag || !before.ModTime.Equal(after.ModTime) {
			t.Errorf("document rewritten: etag %s -> %s", before.ETag, after.ETag)
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
		p := run(t, tg, c, Keys(t, 1), t0)
		if len(p.Headers) != 1 || p.Discovery != publish.ActionRemove {
			t.Fatalf("plan: headers %v discovery %q", p.Headers, p.Discovery)
		}
		attrs, _ := tg.Bucket.Attributes(ctx, tg.Key)
		if attrs.CacheControl != "public, max-age=300, stale-while-revalidate=30" {
			t.Errorf("cache-control %q", attrs.CacheControl)
		}
		if _, err := tg.Bucket.Attributes(ctx, tg.DiscoveryKey()); gcerrors.Code(err) != gcerrors.NotFound {
			t.Errorf("discovery document not deleted: %v", err)
		}
	})
}
