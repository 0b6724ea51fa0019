package rotation

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// TestOverriddenRemovals: only removals that the rules refuse on their own and an override let
// through are recorded; k1 and k2 are as in TestCheck.
func TestOverriddenRemovals(t *testing.T) {
	sup := t0.Add(time.Hour)
	removable := sup.Add(time.Minute + 24*time.Hour)
	k1, k2, k3 := jwks.LiveKey{KID: "k1", Alg: "EdDSA", Thumbprint: "t1"}, jwks.LiveKey{KID: "k2", Alg: "EdDSA", Thumbprint: "t2"}, jwks.LiveKey{KID: "k3", Alg: "EdDSA", Thumbprint: "t3"}
	state := &State{Version: StateVersion, Keys: []StateKey{
		{KID: "k1", Thumbprint: "t1", Source: "s", FirstPublished: t0, Superseded: &sup},
		{KID: "k2", Thumbprint: "t2", Source: "s", FirstPublished: sup},
	}}
	two := 2
	in := func(next []jwks.LiveKey, now time.Time, r Rules) Input {
		return Input{Live: []jwks.LiveKey{k1, k2}, Next: next, Old: state, Now: now, SafeDelay: time.Minute, Rules: r}
	}
	mtl := Rules{MaxTokenLifetime: Duration(24 * time.Hour)}
	tests := []struct {
		name  string
		in    Input
		allow []string
		force bool
		want  []string
	}{
		{"early, allowed by name", in([]jwks.LiveKey{k2}, sup, mtl), []string{"k1"}, false, []string{"k1"}},
		{"once safe, named anyway", in([]jwks.LiveKey{k2}, removable, mtl), []string{"k1"}, false, nil},
		{"once safe, forced", in([]jwks.LiveKey{k2}, removable, mtl), nil, true, nil},
		{"early, forced", in([]jwks.LiveKey{k2}, sup, mtl), nil, true, []string{"k1"}},
		{"no successor, named", in([]jwks.LiveKey{k1}, removable, mtl), []string{"k2"}, false, []string{"k2"}},
		{"no max_token_lifetime, named", in([]jwks.LiveKey{k2}, removable, Rules{}), []string{"k1"}, false, []string{"k1"}},
		{"nothing removed", in([]jwks.LiveKey{k1, k2, k3}, sup, mtl), []string{"k1"}, true, nil},
		{"both at once once safe, over max_removed, named", in([]jwks.LiveKey{k1, k3}, removable, Rules{MaxTokenLifetime: mtl.MaxTokenLifetime, MaxRemoved: new(int)}), []string{"k2"}, false, []string{"k2"}},
		{"every key replaced, forced", in([]jwks.LiveKey{k3}, removable, Rules{MaxTokenLifetime: mtl.MaxTokenLifetime, MaxRemoved: &two}), nil, true, []string{"k1", "k2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if refused, _ := Check(tt.in, tt.allow, tt.force); len(refused) > 0 {
				t.Fatalf("the guard refuses the case: %+v", refused)
			}
			if got := OverriddenRemovals(tt.in, tt.allow, tt.force); !slices.Equal(got, tt.want) {
				t.Errorf("recorded %v, want %v", got, tt.want)
			}
		})
	}
}

// A recorded override survives encoding, stays in a version 1 state, and a state without the
// new fields reads and encodes as before.
func TestStateRecordsOverride(t *testing.T) {
	old := `{
  "version": 1,
  "keys": [
    {
      "kid": "k1",
      "thumbprint": "t1",
      "source": "file:keys/*.pem",
      "first_published": "2026-03-01T12:00:00Z",
      "retired": "2026-03-01T13:00:00Z"
    }
  ]
}
`
	s, err := ParseState([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if k := s.Key("k1"); k.Version != 0 || k.RemovalAllowed != nil {
		t.Errorf("old state read as %+v", k)
	}
	if b, _ := s.Encode(); string(b) != old {
		t.Errorf("old state re-encoded differently:\n%s", b)
	}
	at := time.Date(2026, 3, 1, 14, 0, 0, 500, time.FixedZone("CET", 3600))
	s.RecordRemovalAllowed([]string{"k1", "unknown"}, "alice", at)
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"removal_allowed": {
        "by": "alice",
        "at": "2026-03-01T13:00:00Z"
      }`) || !strings.HasPrefix(string(b), "{\n  \"version\": 1,") {
		t.Errorf("encoded:\n%s", b)
	}
	back, err := ParseState(b)
	if err != nil {
		t.Fatal(err)
	}
	if o := back.Key("k1").RemovalAllowed; o == nil || o.By != "alice" || !o.At.Equal(at.Truncate(time.Second)) {
		t.Errorf("parsed back %+v", o)
	}
	again, _ := back.Encode()
	if !bytes.Equal(again, b) {
		t.Error("encoding is not stable")
	}
	// NextState keeps the record for the retired kid, and drops it when the kid is published again.
	next := NextState(back, nil, rotKeys(t, 2), t0.Add(3*time.Hour))
	if next.Key("k1").RemovalAllowed == nil {
		t.Error("NextState lost the record")
	}
	again2 := NextState(next, jwks.LiveKeys(rotKeys(t, 2)), rotKeys(t, 1, 2), t0.Add(4*time.Hour))
	if again2.Key("k1").RemovalAllowed != nil {
		t.Error("a kid published again keeps the record of its earlier removal")
	}
}
