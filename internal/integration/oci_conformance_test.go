//go:build integration

package integration

import (
	"fmt"
	"testing"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/publishtest"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/oci"
	"github.com/jwkspub/jwkspub/publish/target/targettest"
)

// TestOCIConformance runs the two suites every target passes against the real registry. The
// handles of one location share a RepoLocks, as the targets of one run do: a registry has no
// compare-and-swap on tags, so racing publishers in separate processes can still lose an
// update between the tag check and the put (the README's "one publisher per tag").
func TestOCIConformance(t *testing.T) {
	reg := ociRegistry(t)
	base := pushBase(t, reg, "conformance")
	// One repository, a new tag per location: subtest names hold characters a repository
	// name may not.
	repo, n := ociRepo(t, reg), 0
	fresh := func() string {
		n++
		return fmt.Sprintf("oci://%s:loc%d?base=%s", repo, n, base)
	}
	open := func(t *testing.T, url string, locks *oci.RepoLocks, onWrite func(string)) *oci.Target {
		loc, err := oci.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		it, err := oci.New(loc, oci.Options{SetName: "conformance", Locks: locks, OnWrite: onWrite})
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	t.Run("contract", func(t *testing.T) {
		targettest.Run(t, targettest.Harness{
			Fresh: func(t *testing.T) func(onWrite func(point string)) target.Target {
				url := fresh()
				locks := &oci.RepoLocks{}
				return func(onWrite func(point string)) target.Target { return open(t, url, locks, onWrite) }
			},
		})
	})
	t.Run("publication", func(t *testing.T) {
		publishtest.TargetConformance(t, func(t *testing.T) publish.Destination {
			url := fresh()
			return publish.Destination{URL: url, Target: open(t, url, &oci.RepoLocks{}, nil)}
		})
	})
}
