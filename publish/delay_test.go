package publish

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDeltaSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"900", 900, true},
		{`"900"`, 900, true}, // the quoted form RFC 9111 §5.2 asks recipients to accept
		{"2147483648", 1 << 31, true},
		{"2147483649", 1 << 31, true},
		{"9300000000", 1 << 31, true},                    // the value: 9.3e18 ns wrapped negative
		{"99999999999999999999999999999", 1 << 31, true}, // beyond int64: capped, not ignored
		{"", 0, false},
		{`""`, 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{" 5", 0, false},
	}
	for _, tt := range tests {
		got, ok := deltaSeconds(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("deltaSeconds(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAddDelays(t *testing.T) {
	tests := []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{time.Second, time.Minute}, 61 * time.Second},
		{[]time.Duration{math.MaxInt64, 1}, math.MaxInt64},
		{[]time.Duration{math.MaxInt64 / 2, math.MaxInt64/2 + 2}, math.MaxInt64},
		{[]time.Duration{time.Hour, -2 * time.Hour}, time.Hour}, // a negative term never shortens the sum
	}
	for _, tt := range tests {
		if got := addDelays(tt.in...); got != tt.want {
			t.Errorf("addDelays(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestSafeDelayOverflow: the values of the issue gave a safe delay of 0 (max-age alone) and a
// negative one (with stale-while-revalidate), which let the guard remove a just-published key.
func TestSafeDelayOverflow(t *testing.T) {
	const capped = time.Duration(1<<31) * time.Second
	tests := []struct {
		cc   string
		cdn  time.Duration
		want time.Duration
	}{
		{"public, max-age=9300000000", 0, capped},
		{"public, max-age=9300000000, stale-while-revalidate=9300000000", 0, 2 * capped},
		{"max-age=99999999999999999999999", time.Hour, capped + time.Hour},
		{"max-age=60", math.MaxInt64, math.MaxInt64},
		{"max-age=60", -time.Hour, time.Minute},
		{`max-age="600"`, 0, 10 * time.Minute},
		{"Max-Age=600, S-MAXAGE=900", 0, 15 * time.Minute}, // names are case-insensitive
		{"max-age=600, max-age=60", 0, 10 * time.Minute},   // a repeated directive: the longer
		{"max-age=-5, stale-while-revalidate=x", 0, 0},
	}
	for _, tt := range tests {
		if got := SafeDelay(Rotation{CDNTTL: Duration(tt.cdn)}, tt.cc); got != tt.want {
			t.Errorf("SafeDelay(%q, cdn %v) = %v, want %v", tt.cc, tt.cdn, got, tt.want)
		}
	}
}

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
	if !errors.As(err, &ge) || len(ge.Violations) != 1 || ge.Violations[0].Rule != RuleTooEarly {
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

func TestParseDurationRange(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90d", 90 * 24 * time.Hour, ""},
		{"365d", MaxRotationDuration, ""},
		{"106751d", 106751 * 24 * time.Hour, ""},
		{"106752d", 0, "out of range"}, // wrapped to a negative duration before
		{"99999999999999999999d", 0, "bad duration"},
		{"3000000h", 0, "bad duration"}, // time.ParseDuration refuses overflow itself
		{"-1d", 0, "bad duration"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr == "" && (err != nil || got != tt.want) || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestConfigDelayBounds: each delay the guard adds up is refused beyond its documented bound,
// with the field, the value and the bound in the message.
func TestConfigDelayBounds(t *testing.T) {
	set := func(extra string) string { return "sets:\n  - name: a\n    sources: [env:X]\n" + extra }
	tests := []struct {
		name, yaml string
		want       []string // empty: accepted
	}{
		{"max-age at the bound", set("    output: {cache_control: \"public, max-age=31536000, stale-while-revalidate=31536000\"}\n"), nil},
		{"max-age beyond the bound", set("    output: {cache_control: \"public, max-age=9300000000\"}\n"),
			[]string{"output.cache_control", "max-age=9300000000", "bound of 31536000 seconds (365d)"}},
		{"stale-while-revalidate beyond the bound", set("    output: {cache_control: \"public, max-age=60, stale-while-revalidate=31536001\"}\n"),
			[]string{"output.cache_control", "stale-while-revalidate=31536001", "bound of 31536000"}},
		{"s-maxage beyond int64", set("    output: {cache_control: \"s-maxage=99999999999999999999\"}\n"),
			[]string{"output.cache_control", "s-maxage=99999999999999999999", "bound of 31536000"}},
		{"a signed max-age", set("    output: {cache_control: \"max-age=+60\"}\n"), []string{`"max-age" needs a number of seconds`}},
		{"lifetime at the bound", set("    rotation: {max_token_lifetime: 365d, cdn_ttl: 8760h}\n"), nil},
		{"lifetime beyond the bound", set("    rotation: {max_token_lifetime: 400d}\n"),
			[]string{"rotation.max_token_lifetime 400d is more than the bound of 365d"}},
		{"cdn_ttl beyond the bound", set("    rotation: {cdn_ttl: 9000h}\n"),
			[]string{"rotation.cdn_ttl 375d is more than the bound of 365d"}},
		{"cdn_ttl not whole days", set("    rotation: {cdn_ttl: 8761h}\n"),
			[]string{"rotation.cdn_ttl 8761h0m0s is more than the bound of 365d"}},
		{"lifetime beyond a time.Duration", set("    rotation: {max_token_lifetime: 200000d}\n"),
			[]string{"line 4: rotation.max_token_lifetime", `"200000d" is out of range`, "at most 365d"}},
		{"cdn_ttl that does not parse", set("    rotation: {cdn_ttl: soon}\n"),
			[]string{"line 4: rotation.cdn_ttl", `bad duration "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), "c.yaml")
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
	// A configuration built in code (the --source case) is checked the same way.
	s := testSet("a")
	s.Sources = []SourceConfig{{}}
	s.Rotation.CDNTTL = Duration(400 * 24 * time.Hour)
	if msgs := checkRotationBounds(s.Rotation); len(msgs) != 1 || !strings.Contains(msgs[0], "rotation.cdn_ttl 400d") {
		t.Errorf("checkRotationBounds = %v", msgs)
	}
}

// FuzzCacheControl: whatever a live document's Cache-Control says, the safe delay is never
// negative, never shorter than any one lifetime in it, and bounded when the value validates.
func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{
		"public, max-age=900",
		"public, max-age=9300000000",
		"public, max-age=9300000000, stale-while-revalidate=9300000000",
		"max-age=99999999999999999999999999, s-maxage=1",
		`max-age="60", Stale-While-Revalidate=30`,
		"max-age=-1, max-age=+1, max-age=1e9, max-age=",
		"public, max-age=31536000, s-maxage=31536000, stale-while-revalidate=31536000, stale-if-error=31536000",
		",,=,max-age==5",
	} {
		f.Add(s, int64(0))
		f.Add(s, int64(math.MaxInt64))
	}
	f.Fuzz(func(t *testing.T, cc string, cdn int64) {
		d := SafeDelay(Rotation{CDNTTL: Duration(cdn)}, cc)
		l := parseCacheLifetimes(cc)
		if d < 0 || d < l.maxAge || d < l.sMaxAge || d < l.staleWhileRevalidate || cdn > 0 && d < time.Duration(cdn) {
			t.Fatalf("SafeDelay(%q, cdn %d) = %v; lifetimes %+v", cc, cdn, d, l)
		}
		if MaxAge(cc) != l.maxAge {
			t.Fatalf("MaxAge(%q) = %v, parse says %v", cc, MaxAge(cc), l.maxAge)
		}
		if ValidateCacheControl(cc) == nil {
			if bound := 2 * MaxCacheSeconds * time.Second; SafeDelay(Rotation{}, cc) > bound {
				t.Fatalf("accepted %q has a safe delay of %v, beyond %v", cc, SafeDelay(Rotation{}, cc), bound)
			}
		}
	})
}

func TestRotationEmptyValues(t *testing.T) {
	c, err := ParseConfig([]byte("sets:\n  - name: a\n    sources: [env:X]\n    rotation:\n      max_token_lifetime:\n      max_removed: 2\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Sets[0].Rotation; r.MaxTokenLifetime != 0 || r.CDNTTL != 0 || r.MaxRemoved == nil || *r.MaxRemoved != 2 {
		t.Errorf("rotation = %+v", r)
	}
}
