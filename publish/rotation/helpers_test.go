package rotation

import (
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

// t0 is the tests' first publication, as in package publish's tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rotKeys(t testing.TB, seeds ...byte) *jwks.Set { return testkeys.Rot(t, seeds...) }

func orderedKeys(t testing.TB, seeds ...byte) *jwks.Set { return testkeys.Ordered(t, seeds...) }
