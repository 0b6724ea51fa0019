package publish

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/served"
)

// rotated publishes {k1} at t0 and {k1,k2} at t0+1h, so k1 is superseded at t0+1h. With
// max-age 60s and max_token_lifetime 24h, k1 is removable from t0+1h+60s+24h.
func rotated(t *testing.T, cfg *config.SetConfig) Destination {
	t.Helper()
	tg := fileTarget(t, t.TempDir())
	if _, err := publishAt(t, tg, cfg, rotKeys(t, 1), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := publishAt(t, tg, cfg, rotKeys(t, 1, 2), t0.Add(time.Hour), GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	return tg
}

// withKID renames a set's keys: the way to reuse a kid for other material.
func withKID(s *jwks.Set, kids ...string) *jwks.Set {
	c := &jwks.Set{Keys: slices.Clone(s.Keys)}
	for i, k := range kids {
		c.Keys[i].KID = k
	}
	return c
}

func TestGuardRules(t *testing.T) {
	removable := t0.Add(time.Hour + 60*time.Second + 24*time.Hour)
	noMTL := func(c *config.SetConfig) { c.Rotation.MaxTokenLifetime = 0 }
	maxTwo := func(c *config.SetConfig) { n := 2; c.Rotation.MaxRemoved = &n }
	tests := []struct {
		name  string
		cfg   func(*config.SetConfig)
		keys  func(t *testing.T) *jwks.Set
		now   time.Time
		guard GuardOptions
		rules []string // violated rules; none means allowed
	}{
		{name: "add a key", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 1, 2, 3) }, now: t0.Add(2 * time.Hour)},
		{name: "remove the superseded key too early", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: removable.Add(-time.Second),
			rules: []string{rotation.RuleTooEarly}},
		{name: "remove the superseded key once safe", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: removable},
		{name: "early removal allowed by name", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{AllowRemoval: []string{"k1"}}},
		{name: "allowing another kid does not help", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{AllowRemoval: []string{"k2"}}, rules: []string{rotation.RuleTooEarly}},
		{name: "no max_token_lifetime: every removal needs approval", cfg: noMTL, keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: removable.Add(1000 * time.Hour),
			rules: []string{rotation.RuleNoLifetime}},
		{name: "no max_token_lifetime, allowed by name", cfg: noMTL, keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 2) }, now: removable,
			guard: GuardOptions{AllowRemoval: []string{"k1"}}},
		{name: "removing the newest key: no successor", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 1) }, now: removable.Add(1000 * time.Hour),
			rules: []string{rotation.RuleNoSuccessor}},
		{name: "removing the newest key, allowed by name", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 1) }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{AllowRemoval: []string{"k2"}}},
		{name: "replacing every key", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 3) }, now: removable.Add(1000 * time.Hour),
			rules: []string{rotation.RuleNoSharedKey, rotation.RuleTooManyRemove, rotation.RuleNoSuccessor}},
		{name: "replacing every key, max_removed 2", cfg: maxTwo, keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 3) }, now: removable.Add(1000 * time.Hour),
			rules: []string{rotation.RuleNoSharedKey, rotation.RuleNoSuccessor}},
		{name: "replacing every key, forced", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 3) }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{Force: true}},
		{name: "two removals at once, both named", keys: func(t *testing.T) *jwks.Set { return rotKeys(t, 3) }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{AllowRemoval: []string{"k1", "k2"}}, rules: []string{rotation.RuleNoSharedKey}},
		{name: "a live kid for other material", keys: func(t *testing.T) *jwks.Set { return withKID(rotKeys(t, 1, 3), "k1", "k2") }, now: t0.Add(2 * time.Hour),
			rules: []string{rotation.RuleKIDReused}},
		{name: "a live kid for other material, forced", keys: func(t *testing.T) *jwks.Set { return withKID(rotKeys(t, 1, 3), "k1", "k2") }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{Force: true}},
		{name: "an alg change on a live kid", keys: func(t *testing.T) *jwks.Set {
			s := rotKeys(t, 1, 2)
			s.Keys[1].Alg = "ES256" // what a misconfigured source alg would do
			return s
		}, now: t0.Add(2 * time.Hour), rules: []string{rotation.RuleAlgChanged}},
		{name: "an alg change on a live kid, forced", keys: func(t *testing.T) *jwks.Set {
			s := rotKeys(t, 1, 2)
			s.Keys[1].Alg = "ES256"
			return s
		}, now: t0.Add(2 * time.Hour), guard: GuardOptions{Force: true}},
		{name: "an empty set, even forced", keys: func(t *testing.T) *jwks.Set { return &jwks.Set{} }, now: t0.Add(2 * time.Hour),
			guard: GuardOptions{Force: true}, rules: []string{rotation.RuleEmptySet}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testSet("prod")
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			tg := rotated(t, cfg)
			var logs bytes.Buffer
			tt.guard.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			before, _ := os.ReadFile(strings.TrimPrefix(tg.URL, "file://"))
			_, err := publishAt(t, tg, cfg, tt.keys(t), tt.now, tt.guard)
			var ge *GuardError
			if len(tt.rules) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if (tt.guard.Force || len(tt.guard.AllowRemoval) > 0) && !strings.Contains(logs.String(), "level=WARN") {
					t.Errorf("override not logged: %s", logs.String())
				}
				return
			}
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want a guard refusal", err)
			}
			var got []string
			for _, v := range ge.Violations {
				got = append(got, v.Rule)
				if v.Fix == "" || v.Detail == "" || v.Target == "" {
					t.Errorf("violation without detail, fix or target: %+v", v)
				}
			}
			if !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v, want %v\n%v", got, tt.rules, err)
			}
			after, _ := os.ReadFile(strings.TrimPrefix(tg.URL, "file://"))
			if !bytes.Equal(before, after) {
				t.Error("a refused publication changed the document")
			}
		})
	}
}

func TestGuardMessageSaysWhen(t *testing.T) {
	cfg := testSet("prod")
	tg := rotated(t, cfg)
	_, err := publishAt(t, tg, cfg, rotKeys(t, 2), t0.Add(2*time.Hour), GuardOptions{})
	want := `kid "k1": removal-too-early: removable from 2026-03-02T13:01:00Z (superseded 2026-03-01T13:00:00Z + safe delay 1m0s + max_token_lifetime 24h0m0s); it is 2026-03-01T14:00:00Z (fix: keep it in the sources until then, or pass --allow-removal k1`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant it to contain %s", err, want)
	}
}

// TestTimeline follows the add → wait → switch → wait → remove procedure through status.
func TestTimeline(t *testing.T) {
	cfg := testSet("prod")
	tg := rotated(t, cfg)
	ctx := context.Background()
	steps := []struct {
		now        time.Time
		signWith   string
		removable1 string
	}{
		{t0.Add(30 * time.Second), "", "2026-03-02T13:01:00Z"},
		{t0.Add(time.Hour), "k1", "2026-03-02T13:01:00Z"},
		{t0.Add(time.Hour + time.Minute), "k2", "2026-03-02T13:01:00Z"},
	}
	for _, s := range steps {
		tl, err := ReadTimeline(ctx, tg, cfg, s.now)
		if err != nil {
			t.Fatal(err)
		}
		if tl.SignWith != s.signWith {
			t.Errorf("at %v: sign with %q, want %q", s.now, tl.SignWith, s.signWith)
		}
		if len(tl.Keys) != 2 || tl.Keys[0].KID != "k1" || tl.Keys[0].RemovableFrom == nil ||
			tl.Keys[0].RemovableFrom.Format(time.RFC3339) != s.removable1 || tl.Keys[1].RemovableFrom != nil {
			t.Errorf("at %v: keys %+v", s.now, tl.Keys)
		}
		if got := tl.Keys[1].SafeFrom; !got.Equal(t0.Add(time.Hour + time.Minute)) {
			t.Errorf("k2 safe from %v", got)
		}
	}
	// After the removal, k1 is retired and k2 is what to sign with.
	if _, err := publishAt(t, tg, cfg, rotKeys(t, 2), t0.Add(48*time.Hour), GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	tl, _ := ReadTimeline(ctx, tg, cfg, t0.Add(48*time.Hour))
	if tl.SignWith != "k2" || tl.Keys[0].Retired == nil || tl.Keys[0].Live {
		t.Errorf("after removal: %+v", tl)
	}
}

// TestPlanAgainst compares with a served document over TLS, as diff --against does.
func TestPlanAgainst(t *testing.T) {
	cfg := testSet("prod")
	keys := rotKeys(t, 1, 2)
	doc, _ := jwks.Encode(keys, false)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			w.Header().Set("Cache-Control", "public, max-age=60")
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(doc)
		case "/old.json":
			w.Header().Set("Cache-Control", "public, max-age=60")
			w.Header().Set("Content-Type", "application/json")
			old, _ := jwks.Encode(rotKeys(t, 1), false)
			_, _ = w.Write(old)
		case "/broken":
			http.Error(w, "boom", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	o := PlanOptions{Set: cfg, Keys: keys, Now: t0}
	p, err := PlanAgainst(ctx, srv.Client(), srv.URL+"/.well-known/jwks.json", o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() {
		t.Errorf("same document served: plan %+v", p)
	}
	p, err = PlanAgainst(ctx, srv.Client(), srv.URL+"/old.json", o)
	if err != nil {
		t.Fatal(err)
	}
	if a, r, c := p.Count(); !p.Changed() || a != 1 || r != 0 || c != 0 {
		t.Errorf("older document served: %+v", p)
	}
	if p, err = PlanAgainst(ctx, srv.Client(), srv.URL+"/missing", o); err != nil || !p.First {
		t.Errorf("404: %+v %v", p, err)
	}
	if _, err = PlanAgainst(ctx, srv.Client(), srv.URL+"/broken", o); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: %v", err)
	}
	if err := Apply(ctx, p); err == nil {
		t.Error("a plan against a URL was applied")
	}
	for _, u := range []string{"http://auth.example.com/.well-known/jwks.json", "ftp://x/y", "http://10.0.0.1/jwks.json"} {
		if _, err := PlanAgainst(ctx, srv.Client(), u, o); err == nil {
			t.Errorf("PlanAgainst(%s) accepted", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080/jwks.json", "http://localhost/jwks.json", "http://[::1]/x", "https://auth.example.com/x"} {
		if err := served.CheckPublicURL(u); err != nil {
			t.Errorf("CheckPublicURL(%s) = %v", u, err)
		}
	}
}

// TestJudgeVerdict checks that the verdict names what each override let through, and that
// Guard refuses exactly what Judge refuses.
func TestJudgeVerdict(t *testing.T) {
	type fate struct{ kid, rule, by string }
	tests := []struct {
		name       string
		keys       []byte
		guard      GuardOptions
		refused    []fate
		overridden []fate
	}{
		{name: "nothing broken", keys: []byte{1, 2, 3}},
		{name: "refused", keys: []byte{2}, refused: []fate{{"k1", rotation.RuleTooEarly, ""}}},
		{name: "allowed by name", keys: []byte{2}, guard: GuardOptions{AllowRemoval: []string{"k1"}},
			overridden: []fate{{"k1", rotation.RuleTooEarly, OverrideAllowRemoval}}},
		{name: "forced", keys: []byte{2}, guard: GuardOptions{Force: true},
			overridden: []fate{{"k1", rotation.RuleTooEarly, OverrideForce}}},
		{name: "swap: force covers what allow-removal does not", keys: []byte{3}, guard: GuardOptions{Force: true, AllowRemoval: []string{"k1", "k2"}},
			overridden: []fate{{"", rotation.RuleNoSharedKey, OverrideForce}, {"", rotation.RuleTooManyRemove, OverrideAllowRemoval},
				{"k1", rotation.RuleTooEarly, OverrideAllowRemoval}, {"k2", rotation.RuleNoSuccessor, OverrideAllowRemoval}}},
		{name: "swap: allow-removal alone", keys: []byte{3}, guard: GuardOptions{AllowRemoval: []string{"k1", "k2"}},
			refused:    []fate{{"", rotation.RuleNoSharedKey, ""}},
			overridden: []fate{{"", rotation.RuleTooManyRemove, OverrideAllowRemoval}, {"k1", rotation.RuleTooEarly, OverrideAllowRemoval}, {"k2", rotation.RuleNoSuccessor, OverrideAllowRemoval}}},
	}
	fates := func(vs []GuardViolation) []fate {
		var out []fate
		for _, v := range vs {
			out = append(out, fate{v.KID, v.Rule, v.OverriddenBy})
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testSet("prod")
			tg := rotated(t, cfg)
			p, err := PlanTarget(context.Background(), tg, PlanOptions{Set: cfg, Keys: rotKeys(t, tt.keys...), Now: t0.Add(2 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			v := Judge([]*Plan{p}, tt.guard)
			if got := fates(v.Refused); !slices.Equal(got, tt.refused) {
				t.Errorf("refused %v, want %v", got, tt.refused)
			}
			if got := fates(v.Overridden); !slices.Equal(got, tt.overridden) {
				t.Errorf("overridden %v, want %v", got, tt.overridden)
			}
			if v.Refuses(p.Set, p.Target) != (len(tt.refused) > 0) {
				t.Errorf("Refuses = %v with %d refused", v.Refuses(p.Set, p.Target), len(tt.refused))
			}
			err = Guard([]*Plan{p}, tt.guard)
			var ge *GuardError
			if (err != nil) != (len(tt.refused) > 0) || (err != nil && (!errors.As(err, &ge) || !slices.Equal(ge.Violations, v.Refused))) {
				t.Errorf("Guard = %v, verdict refuses %v", err, v.Refused)
			}
		})
	}
}
