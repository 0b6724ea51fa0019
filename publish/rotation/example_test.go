package rotation_test

import (
	"fmt"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// The safe delay is how long verifiers may keep the previous document.
func ExampleSafeDelay() {
	fmt.Println(rotation.SafeDelay(rotation.Rules{}, "public, max-age=900, stale-while-revalidate=60"))
	// Output: 16m0s
}
