package publish_test

import (
	"path/filepath"
	"testing"

	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/publishtest"
)

// The conformance suite on the drivers that need no service: a directory, as cmd/jwkspub opens
// it, and gocloud's in-memory bucket (a real driver, the one the oci target plans through).
func TestConformanceFile(t *testing.T) {
	publishtest.TargetConformance(t, func(t *testing.T) *publish.Target {
		dir := filepath.Join(t.TempDir(), ".well-known")
		loc, err := publish.SplitTarget("file://" + filepath.ToSlash(dir) + "/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return &publish.Target{Location: loc, Bucket: b}
	})
}

func TestConformanceMem(t *testing.T) {
	publishtest.TargetConformance(t, func(t *testing.T) *publish.Target {
		loc, err := publish.SplitTarget("s3://mem/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		b := memblob.OpenBucket(nil)
		t.Cleanup(func() { b.Close() })
		return &publish.Target{Location: loc, Bucket: b}
	})
}
