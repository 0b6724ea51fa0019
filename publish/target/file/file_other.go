//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package file

import (
	"context"
	"fmt"

	"github.com/jwkspub/jwkspub/publish/target"
)

// supported is false: without flock and openat the precondition and the refusal to follow
// links could not be kept, so New refuses rather than publish without them.
const supported = false

// Read fails: New never returns a Target here.
func (t *Target) Read(ctx context.Context) (*target.Snapshot, error) {
	return nil, fmt.Errorf("file target %s: %w", t.dir, errNotSupported)
}

// Write fails: New never returns a Target here.
func (t *Target) Write(ctx context.Context, base *target.Snapshot, objs []target.Object) error {
	return fmt.Errorf("file target %s: %w", t.dir, errNotSupported)
}
