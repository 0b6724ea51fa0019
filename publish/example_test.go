package publish_test

import (
	"fmt"

	"github.com/jwkspub/jwkspub/publish"
)

// A target URL is split once into what a gocloud.dev URL opener takes and the object key.
func ExampleSplitTarget() {
	for _, raw := range []string{
		"file:///srv/www/.well-known/jwks.json",
		"s3://keys-bucket/.well-known/jwks.json?region=eu-west-1",
	} {
		loc, err := publish.SplitTarget(raw)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(loc.BucketURL, loc.Key, loc.StateKey(), loc.DiscoveryKey())
	}
	// Output:
	// file:///srv/www/.well-known jwks.json jwks.json.state.json openid-configuration
	// s3://keys-bucket?region=eu-west-1 .well-known/jwks.json .well-known/jwks.json.state.json .well-known/openid-configuration
}

// The safe delay is how long verifiers may keep the previous document.
func ExampleSafeDelay() {
	fmt.Println(publish.SafeDelay(publish.Rotation{}, "public, max-age=900, stale-while-revalidate=60"))
	// Output: 16m0s
}
