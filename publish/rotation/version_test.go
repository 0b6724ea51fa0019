package rotation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// TestSignWith: among the safe live keys of one source the source's order names the newest,
// whatever the kid strings; across sources, and for states without versions, dates decide.
func TestSignWith(t *testing.T) {
	later := t0.Add(time.Hour)
	sup := func(tm time.Time) *time.Time { return &tm }
	const transit = "vault-transit:transit/app"
	key := func(kid, src string, version int, first time.Time, superseded *time.Time) StateKey {
		return StateKey{KID: kid, Thumbprint: "t-" + kid, Source: src, FirstPublished: first, Superseded: superseded, Version: version}
	}
	tests := []struct {
		name string
		keys []StateKey
		now  time.Time
		want string
	}{
		{"versions together, no supersession recorded (thumbprint kids sort v1 last)",
			[]StateKey{key("zz-v1", transit, 1, t0, nil), key("aa-v2", transit, 2, t0, nil)}, later, "aa-v2"},
		{"versions together, v1 superseded",
			[]StateKey{key("zz-v1", transit, 1, t0, sup(t0)), key("aa-v2", transit, 2, t0, nil)}, later, "aa-v2"},
		{"three versions, the newest not yet safe",
			[]StateKey{key("zz-v1", transit, 1, t0, sup(t0)), key("mm-v2", transit, 2, t0, sup(later)), key("aa-v3", transit, 3, later, nil)}, later, "mm-v2"},
		{"three versions, all safe",
			[]StateKey{key("zz-v1", transit, 1, t0, sup(t0)), key("mm-v2", transit, 2, t0, sup(later)), key("aa-v3", transit, 3, later, nil)}, later.Add(time.Hour), "aa-v3"},
		{"a state without versions: the key nothing supersedes",
			[]StateKey{key("zz", transit, 0, t0, sup(t0)), key("aa", transit, 0, t0, nil)}, later, "aa"},
		{"a state without versions, nothing superseded: the kid breaks the tie",
			[]StateKey{key("aa", transit, 0, t0, nil), key("zz", transit, 0, t0, nil)}, later, "zz"},
		{"two sources: the later first publication",
			[]StateKey{key("a-v7", transit, 7, t0, nil), key("b-file", "file:keys/*.pem", 1, t0.Add(time.Minute), nil)}, later, "b-file"},
		{"the highest version is retired",
			[]StateKey{key("zz-v1", transit, 1, t0, nil), {KID: "aa-v2", Thumbprint: "t", Source: transit, FirstPublished: t0, Version: 2, Retired: sup(later)}}, later, "zz-v1"},
		{"nothing safe yet", []StateKey{key("aa-v1", transit, 1, later, nil)}, later, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var live []jwks.LiveKey
			for _, k := range tt.keys {
				if k.Retired == nil {
					live = append(live, jwks.LiveKey{KID: k.KID, Thumbprint: k.Thumbprint, Alg: "ES256"})
				}
			}
			// Both orders of the state: the answer must not depend on it.
			for _, keys := range [][]StateKey{tt.keys, reversed(tt.keys)} {
				tl := TimelineOf("prod", Rules{}, "file:///srv/keys", &State{Version: StateVersion, Keys: keys}, live, "public, max-age=60", tt.now)
				if tl.SignWith != tt.want {
					t.Errorf("sign with %q, want %q", tl.SignWith, tt.want)
				}
				for _, k := range tl.Keys {
					if i := slices.IndexFunc(tt.keys, func(s StateKey) bool { return s.KID == k.KID }); k.Version != tt.keys[i].Version {
						t.Errorf("%s: timeline version %d, state has %d", k.KID, k.Version, tt.keys[i].Version)
					}
				}
			}
		})
	}
}

func reversed(ks []StateKey) []StateKey {
	out := slices.Clone(ks)
	slices.Reverse(out)
	return out
}

// NextState records each key's place in its source's order, and keeps the recorded one for a
// key that comes without (kept while its source is down).
func TestNextStateVersion(t *testing.T) {
	s := NextState(nil, nil, orderedKeys(t, 1, 2), t0)
	if v1, v2 := s.Key("k1").Version, s.Key("k2").Version; v1 != 1 || v2 != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", v1, v2)
	}
	kept := orderedKeys(t, 1, 2)
	kept.Keys[1].Order = 0
	s2 := NextState(s, jwks.LiveKeys(kept), kept, t0.Add(time.Hour))
	if v := s2.Key("k2").Version; v != 2 {
		t.Errorf("kept key's version %d, want the recorded 2", v)
	}
	if s.Key("k2").Version != 2 {
		t.Error("NextState modified the old state")
	}
}

// TestSourceKeyRecorded: the state records a key's source id (an AWS KMS ARN) and keeps it while
// the key is published without one (kept from the live document); a state without it reads as
// before, and its encoding leaves the member out.
func TestSourceKeyRecorded(t *testing.T) {
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234"
	set := rotKeys(t, 1)
	set.Keys[0].SourceKey = arn
	st := NextState(nil, nil, set, t0)
	if got := st.Keys[0].SourceKey; got != arn {
		t.Fatalf("source_key %q, want %q", got, arn)
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseState(b)
	if err != nil || back.Keys[0].SourceKey != arn {
		t.Fatalf("round trip: %+v, %v\n%s", back, err, b)
	}
	kept := rotKeys(t, 1) // the same key, now without a source id
	if got := NextState(back, jwks.LiveKeys(set), kept, t0.Add(time.Hour)).Keys[0].SourceKey; got != arn {
		t.Errorf("source_key after a run without one: %q, want %q", got, arn)
	}
	plain, _ := NextState(nil, nil, rotKeys(t, 1), t0).Encode()
	if strings.Contains(string(plain), "source_key") {
		t.Errorf("a key without a source id encodes source_key:\n%s", plain)
	}
}
