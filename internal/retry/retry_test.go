package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base, ceiling time.Duration
		attempt       int
		lo, hi        time.Duration
	}{
		{100 * time.Millisecond, 4 * time.Second, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{100 * time.Millisecond, 4 * time.Second, 3, 400 * time.Millisecond, 800 * time.Millisecond},
		{100 * time.Millisecond, 4 * time.Second, 10, 2 * time.Second, 4 * time.Second},
		{100 * time.Millisecond, 4 * time.Second, 70, 2 * time.Second, 4 * time.Second}, // overflow
		{0, 4 * time.Second, 3, 0, 0},
	} {
		for range 50 {
			if d := Backoff(tc.base, tc.ceiling, tc.attempt); d < tc.lo || d > tc.hi {
				t.Fatalf("Backoff(%v, %v, %d) = %v, want within [%v, %v]", tc.base, tc.ceiling, tc.attempt, d, tc.lo, tc.hi)
			}
		}
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("Wait on a canceled context: %v after %v", err, time.Since(start))
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
