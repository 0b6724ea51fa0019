package blob_test

import (
	"fmt"

	"github.com/jwkspub/jwkspub/publish/target/blob"
)

// A target URL is split once into what a gocloud.dev URL opener takes and the object key.
func ExampleParseURL() {
	bucket, key, err := blob.ParseURL("s3://keys/.well-known/jwks.json?region=eu-west-1")
	fmt.Println(bucket, key, err)
	// Output: s3://keys?region=eu-west-1 .well-known/jwks.json <nil>
}
