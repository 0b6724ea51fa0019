package rotation

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds on the configured delays. A year is far beyond any sane cache lifetime or token
// lifetime, and keeping every term of the safe delay below it keeps every sum the guard and
// status compute far from overflowing: a delay that wraps around becomes short or negative,
// and the guard would then let a just-published key be removed.
const (
	// MaxCacheSeconds bounds max-age, s-maxage, stale-while-revalidate and stale-if-error in
	// output.cache_control: 365 days.
	MaxCacheSeconds = 365 * 24 * 60 * 60
	// MaxRotationDuration bounds rotation.max_token_lifetime and rotation.cdn_ttl: 365 days.
	MaxRotationDuration = 365 * 24 * time.Hour
)

// deltaSecondsCap is what RFC 9111 §1.2.2 tells a cache to assume for a delta-seconds value
// too large to represent: 2^31 seconds. Reading a live document's Cache-Control (which anyone
// may have written) with this cap makes a huge value a long delay, never a wrapped one.
const deltaSecondsCap = 1 << 31

// deltaSeconds parses a Cache-Control delta-seconds value (RFC 9111 §1.2.2): one or more
// digits, also accepted in the quoted form recipients must tolerate. A value beyond 2^31
// counts as 2^31 seconds. ok is false for anything else (a sign, a fraction, an empty value).
func deltaSeconds(v string) (secs int64, ok bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if secs < deltaSecondsCap {
			secs = secs*10 + int64(c-'0')
		}
	}
	return min(secs, deltaSecondsCap), true
}

// cacheLifetimes are the directives of a Cache-Control value that let a cache keep a document.
type cacheLifetimes struct {
	maxAge, sMaxAge, staleWhileRevalidate time.Duration
}

// parseCacheLifetimes reads the lifetimes of a Cache-Control value. Directive names compare
// case-insensitively (RFC 9111 §5.2); a directive given twice counts with its longest value, as
// the guard must assume the longest a verifier may keep a document.
func parseCacheLifetimes(cacheControl string) cacheLifetimes {
	var l cacheLifetimes
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		n, ok := deltaSeconds(strings.TrimSpace(val))
		if !ok {
			continue
		}
		secs := time.Duration(n) * time.Second // at most 2^31 s: no overflow
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "max-age":
			l.maxAge = max(l.maxAge, secs)
		case "s-maxage":
			l.sMaxAge = max(l.sMaxAge, secs)
		case "stale-while-revalidate":
			l.staleWhileRevalidate = max(l.staleWhileRevalidate, secs)
		}
	}
	return l
}

// addDelays adds non-negative durations, saturating at the largest time.Duration instead of
// wrapping around to a negative one. A negative term counts as zero: no delay shortens another.
func addDelays(ds ...time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		if d <= 0 {
			continue
		}
		if sum > math.MaxInt64-d {
			return math.MaxInt64
		}
		sum += d
	}
	return sum
}

// FormatDays writes a duration the way the configuration takes it: whole days as "400d",
// anything else as a Go duration.
func FormatDays(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// CheckBounds returns a message for each rotation duration beyond its bound.
func CheckBounds(r Rules) []string {
	var out []string
	for _, f := range []struct {
		name string
		v    Duration
	}{{"rotation.max_token_lifetime", r.MaxTokenLifetime}, {"rotation.cdn_ttl", r.CDNTTL}} {
		switch d := time.Duration(f.v); {
		case d < 0:
			out = append(out, fmt.Sprintf("%s %s is negative", f.name, d))
		case d > MaxRotationDuration:
			out = append(out, fmt.Sprintf("%s %s is more than the bound of %s", f.name, FormatDays(d), FormatDays(MaxRotationDuration)))
		}
	}
	return out
}

// ValidateCacheControl accepts the directives that make sense for a public JWKS. Empty means
// DefaultCacheControl.
func ValidateCacheControl(v string) error {
	if v == "" {
		return nil
	}
	for _, d := range strings.Split(v, ",") {
		d = strings.TrimSpace(d)
		name, val, hasVal := strings.Cut(d, "=")
		switch name {
		case "public", "no-transform", "must-revalidate", "proxy-revalidate":
			if hasVal {
				return fmt.Errorf("%q takes no value", name)
			}
		case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
			if !hasVal || val == "" || strings.Trim(val, "0123456789") != "" {
				return fmt.Errorf("%q needs a number of seconds", name)
			}
			if n, err := strconv.ParseInt(val, 10, 64); err != nil || n > MaxCacheSeconds {
				return fmt.Errorf("%s is more than the bound of %d seconds (%s)", d, MaxCacheSeconds, FormatDays(MaxCacheSeconds*time.Second))
			}
		default:
			return fmt.Errorf("directive %q is not allowed for a public JWKS (use public, max-age, s-maxage, stale-while-revalidate, stale-if-error, must-revalidate, no-transform)", d)
		}
	}
	return nil
}

// MaxAge returns the max-age of a Cache-Control value, 0 when absent; a value too large to
// represent counts as 2^31 seconds (RFC 9111 §1.2.2).
func MaxAge(cacheControl string) time.Duration {
	return parseCacheLifetimes(cacheControl).maxAge
}
