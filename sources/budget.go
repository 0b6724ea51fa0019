package sources

import (
	"errors"
	"fmt"
	"sync"
)

// DefaultMaxInputBytes is the input budget when none is given: 64 MiB of key input in all. A
// JWK Set of ten thousand RSA keys is about 4 MB.
const DefaultMaxInputBytes = 64 << 20

// BytesPerKey is how much of the budget each key read counts for at least: a parsed key and
// its share of the set being assembled take about that much memory, far more than its 100
// bytes of JSON when it is a bare Ed25519 key, so bytes alone would let a set of tiny keys
// cost ten times its size (a 61 MB set of Ed25519 keys took 1.2 GB). The default budget
// allows 65,536 keys.
const BytesPerKey = 1024

// ErrInputBudget is wrapped by every refusal of input beyond the budget.
var ErrInputBudget = errors.New("input budget exceeded")

// Budget bounds the bytes of key input read across every source that shares it (a run of
// jwkspub makes one for all its sets), so no input, however many sources it is spread over,
// can take unbounded memory. It is safe for concurrent use.
type Budget struct {
	limit int64
	mu    sync.Mutex
	used  int64
	keys  int64 // keys parsed, each counting BytesPerKey against limit
}

// NewBudget returns a budget of limit bytes; limit <= 0 means DefaultMaxInputBytes.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultMaxInputBytes
	}
	return &Budget{limit: limit}
}

// Limit is the budget in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Used is how many bytes were charged to the budget so far.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// left is what remains of the budget.
func (b *Budget) left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.used
}

// take charges n bytes, or charges nothing and fails if they do not fit.
func (b *Budget) take(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.limit-b.used {
		return b.exceeded(n)
	}
	b.used += n
	return nil
}

// takeKeys counts n more keys, or fails once the keys read pass limit/BytesPerKey.
func (b *Budget) takeKeys(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys += int64(n)
	if max := b.limit / BytesPerKey; b.keys > max {
		return fmt.Errorf("%w: more than %d keys: the input budget of %s allows one key per %d bytes", ErrInputBudget, max, byteCount(b.limit), BytesPerKey)
	}
	return nil
}

// exceeded says how n bytes do not fit; b.mu is held.
func (b *Budget) exceeded(n int64) error {
	if b.used == 0 {
		return fmt.Errorf("%w: %s is more than the input budget of %s", ErrInputBudget, byteCount(n), byteCount(b.limit))
	}
	return fmt.Errorf("%w: %s would pass the input budget of %s, of which other input already took %s",
		ErrInputBudget, byteCount(n), byteCount(b.limit), byteCount(b.used))
}

// fixBudget says what to do about an input beyond the budget.
const fixBudget = "publish fewer or smaller keys; if the input is right, raise the budget (--max-input-bytes)"

// budget is the options' shared budget, or a fresh default one for a caller that set none (each
// input is then bounded alone).
func (o Options) budget() *Budget {
	if o.Budget == nil {
		return NewBudget(0)
	}
	return o.Budget
}

// Charge takes n bytes of input found at origin from the budget.
func (o Options) Charge(origin Origin, n int) error {
	if err := o.budget().take(int64(n)); err != nil {
		return &Error{Origin: origin, Err: err, Fix: fixBudget}
	}
	return nil
}

// keyCount charges the keys one parser makes to the budget as it goes.
type keyCount struct {
	b *Budget
	n int
}

func (o Options) keyCount() *keyCount { return &keyCount{b: o.budget()} }

// upTo counts the keys made so far, n in all; an error means the parser must stop, at origin.
func (c *keyCount) upTo(n int, origin Origin) error {
	if n <= c.n {
		return nil
	}
	err := c.b.takeKeys(n - c.n)
	c.n = n
	if err != nil {
		return &Error{Origin: origin, Err: err, Fix: fixBudget}
	}
	return nil
}

// byteCount writes a size in bytes, with its binary-unit form when that is shorter to read.
func byteCount(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%d bytes (%.1f %ciB)", n, float64(n)/float64(div), "KMGTP"[exp])
}
