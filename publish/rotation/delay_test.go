package rotation

import (
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
		if got := SafeDelay(Rules{CDNTTL: Duration(tt.cdn)}, tt.cc); got != tt.want {
			t.Errorf("SafeDelay(%q, cdn %v) = %v, want %v", tt.cc, tt.cdn, got, tt.want)
		}
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
		d := SafeDelay(Rules{CDNTTL: Duration(cdn)}, cc)
		l := parseCacheLifetimes(cc)
		if d < 0 || d < l.maxAge || d < l.sMaxAge || d < l.staleWhileRevalidate || cdn > 0 && d < time.Duration(cdn) {
			t.Fatalf("SafeDelay(%q, cdn %d) = %v; lifetimes %+v", cc, cdn, d, l)
		}
		if MaxAge(cc) != l.maxAge {
			t.Fatalf("MaxAge(%q) = %v, parse says %v", cc, MaxAge(cc), l.maxAge)
		}
		if ValidateCacheControl(cc) == nil {
			if bound := 2 * MaxCacheSeconds * time.Second; SafeDelay(Rules{}, cc) > bound {
				t.Fatalf("accepted %q has a safe delay of %v, beyond %v", cc, SafeDelay(Rules{}, cc), bound)
			}
		}
	})
}
