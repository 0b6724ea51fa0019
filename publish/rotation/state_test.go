package rotation

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

func TestSafeDelay(t *testing.T) {
	tests := []struct {
		cc   string
		cdn  time.Duration
		want time.Duration
	}{
		{"public, max-age=900", 0, 15 * time.Minute},
		{"public, max-age=60, stale-while-revalidate=30", 0, 90 * time.Second},
		{"public, max-age=60, s-maxage=600", time.Minute, 11 * time.Minute},
		{"public", 0, 0},
	}
	for _, tt := range tests {
		if got := SafeDelay(Rules{CDNTTL: Duration(tt.cdn)}, tt.cc); got != tt.want {
			t.Errorf("SafeDelay(%q, %v) = %v, want %v", tt.cc, tt.cdn, got, tt.want)
		}
	}
}

func TestNextState(t *testing.T) {
	k12 := rotKeys(t, 1, 2)
	// A live document without state: its keys are adopted, first published now, and a new
	// key from the same source supersedes them.
	live := jwks.LiveKeys(rotKeys(t, 1))
	s := NextState(nil, live, k12, t0)
	k1, k2 := s.Key("k1"), s.Key("k2")
	if k1 == nil || k2 == nil || !k1.FirstPublished.Equal(t0) || k1.Superseded == nil || !k1.Superseded.Equal(t0) || k2.Superseded != nil {
		t.Fatalf("adopted: %+v", s.Keys)
	}
	if k1.Source != "file:keys/*.pem" {
		t.Errorf("adopted key's source = %q, want the set's spec", k1.Source)
	}
	// Unchanged: the same state, so the same bytes.
	s2 := NextState(s, jwks.LiveKeys(k12), k12, t0.Add(time.Hour))
	a, _ := s.Encode()
	b, _ := s2.Encode()
	if !bytes.Equal(a, b) {
		t.Errorf("unchanged publication changed the state:\n%s\n%s", a, b)
	}
	// Removed: retired, kept as history; re-added later: first published again.
	s3 := NextState(s2, jwks.LiveKeys(k12), rotKeys(t, 2), t0.Add(2*time.Hour))
	if r := s3.Key("k1").Retired; r == nil || !r.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("k1 not retired: %+v", s3.Key("k1"))
	}
	s4 := NextState(s3, jwks.LiveKeys(rotKeys(t, 2)), k12, t0.Add(3*time.Hour))
	if k := s4.Key("k1"); k.Retired != nil || !k.FirstPublished.Equal(t0.Add(3*time.Hour)) || k.Superseded != nil {
		t.Errorf("re-added k1: %+v", k)
	}
	if k := s4.Key("k2"); k.Superseded == nil {
		t.Errorf("k2 not superseded by the re-added k1: %+v", k)
	}
	// Keys from different sources do not supersede each other.
	other := rotKeys(t, 3)
	other.Keys[0].Spec = "env-prefix:JWT_"
	both := &jwks.Set{Keys: append(slices.Clone(k12.Keys), other.Keys...)}
	s5 := NextState(s2, jwks.LiveKeys(k12), both, t0.Add(time.Hour))
	if s5.Key("k2").Superseded != nil {
		t.Errorf("k2 superseded by a key of another source")
	}
}

func TestParseState(t *testing.T) {
	ok := `{"version":1,"keys":[{"kid":"b","thumbprint":"t","source":"file:x","first_published":"2026-01-01T00:00:00Z"},{"kid":"a","thumbprint":"t","source":"s","first_published":"2026-01-01T00:00:00Z","superseded":"2026-01-02T00:00:00Z"}]}`
	s, err := ParseState([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if s.Keys[0].KID != "a" || s.Keys[0].Superseded == nil {
		t.Errorf("parsed %+v", s)
	}
	for _, tt := range []struct{ in, err string }{
		{`{"version":2,"keys":[]}`, "version 2"},
		{`{"version":1,"keys":[],"extra":1}`, "unknown field"},
		{`{"version":1,"keys":[{"kid":"","first_published":"2026-01-01T00:00:00Z"}]}`, "has no kid"},
		{`{"version":1,"keys":[{"kid":"a","first_published":"2026-01-01T00:00:00Z"},{"kid":"a","first_published":"2026-01-01T00:00:00Z"}]}`, "appears twice"},
		{`{"version":1,"keys":[{"kid":"a"}]}`, "no first_published"},
		{`{"version":1,"keys":[]} {}`, "trailing data"},
		{`not json`, "state object"},
	} {
		if _, err := ParseState([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseState(%s) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// FuzzParseState: the state object is read from storage others can write; parsing must never
// panic, and whatever parses must encode and parse back to the same state.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"keys":[{"kid":"a","thumbprint":"t","source":"s","first_published":"2026-01-01T00:00:00Z","superseded":"2026-01-02T00:00:00Z","retired":"2026-01-03T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseState(data)
		if err != nil {
			return
		}
		enc, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseState(enc)
		if err != nil {
			t.Fatalf("re-parsing our own encoding: %v\n%s", err, enc)
		}
		enc2, _ := s2.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// Versions first published together are ordered by their source: all but the newest are
// superseded from that publication, so retiring the oldest later is not "no-successor".
func TestNextStateSourceOrder(t *testing.T) {
	at := func(s *State, kid string) string {
		k := s.Key(kid)
		if k == nil || k.Superseded == nil {
			return "-"
		}
		return k.Superseded.Sub(t0).String()
	}
	tests := []struct {
		name string
		old  func() *State
		set  *jwks.Set
		now  time.Time
		want map[string]string // kid → superseded, as an offset from t0
	}{
		{"three versions first published together", func() *State { return nil }, orderedKeys(t, 1, 2, 3), t0,
			map[string]string{"k1": "0s", "k2": "0s", "k3": "-"}},
		{"the order, not the kid, says which is newest", func() *State { return nil }, orderedKeys(t, 9, 10), t0,
			map[string]string{"k9": "0s", "k10": "-"}},
		{"a newer version later supersedes the newest only", func() *State { return NextState(nil, nil, orderedKeys(t, 1, 2), t0) },
			orderedKeys(t, 1, 2, 3), t0.Add(time.Hour), map[string]string{"k1": "0s", "k2": "1h0m0s", "k3": "-"}},
		{"an older version published again does not supersede the newest", func() *State { return NextState(nil, nil, orderedKeys(t, 3), t0) },
			orderedKeys(t, 2, 3), t0.Add(time.Hour), map[string]string{"k2": "1h0m0s", "k3": "-"}},
		{"a state written when versions had no order is put right", func() *State { return NextState(nil, nil, rotKeys(t, 1, 2, 3), t0) },
			orderedKeys(t, 1, 2, 3), t0.Add(time.Hour), map[string]string{"k1": "0s", "k2": "0s", "k3": "-"}},
		{"without an order: a key first published now supersedes the others", func() *State { return NextState(nil, nil, rotKeys(t, 1, 2), t0) },
			rotKeys(t, 1, 2, 3), t0.Add(time.Hour), map[string]string{"k1": "1h0m0s", "k2": "1h0m0s", "k3": "-"}},
		{"without an order: published together, none is superseded", func() *State { return nil }, rotKeys(t, 1, 2), t0,
			map[string]string{"k1": "-", "k2": "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.old()
			var live []jwks.LiveKey
			if old != nil {
				for _, k := range old.Keys {
					live = append(live, jwks.LiveKey{KID: k.KID, Thumbprint: k.Thumbprint})
				}
			}
			s := NextState(old, live, tt.set, tt.now)
			for kid, want := range tt.want {
				if got := at(s, kid); got != want {
					t.Errorf("%s superseded at t0+%s, want %s", kid, got, want)
				}
			}
		})
	}
}
