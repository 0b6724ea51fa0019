// Package retry holds what the clients that retry (Vault, an issuer's JWKS URL) share: how
// long to wait before the next attempt, and a wait that ends with the context.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before retry number attempt+1: base doubled attempt times, capped at
// ceiling, with full jitter on its upper half so that parallel jobs do not retry in lockstep.
// A base of 0 or less waits nothing.
func Backoff(base, ceiling time.Duration, attempt int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base << attempt
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d/2 + rand.N(d/2+1)
}

// Wait waits d, or until ctx ends, whichever comes first; it returns ctx's error in the latter
// case.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
