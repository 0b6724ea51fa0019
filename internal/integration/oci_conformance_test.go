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
// handles of one location share a RepoLocks, as the targets of one run do. Publishers in
// separate processes are raced by TestOCIRacingPublishers below.
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

// raceOCI races racers `jwkspub publish` processes, rounds times, at one fresh oci:// tag per
// round (see race); query is appended to the target URL.
func raceOCI(t *testing.T, bin, reg, base, query string, racers, rounds int) raceCounts {
	t.Helper()
	repo := ociRepo(t, reg)
	return race(t, bin, racers, rounds, "oci:// tag"+query, func(round int, _ string) (string, func() target.Target) {
		url := fmt.Sprintf("oci://%s:round%d?base=%s%s", repo, round, base, query)
		return url, func() target.Target {
			loc, err := oci.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			it, err := oci.New(loc, oci.Options{SetName: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			return it
		}
	})
}

// TestOCIRacingPublishers races jwkspub processes at one tag of the real registry, as the
// file target's TestRacingPublishers does at a directory. With the default settle window no
// publisher that exits 0 may have lost its key. settle=0 skips the check for a rival's
// overwrite after the window, leaving only the tag check before the put and the read-backs
// right after it (the protocol before the parent chain): its lost updates are logged, the
// number the README quotes, not asserted, since how many races land in the window varies.
func TestOCIRacingPublishers(t *testing.T) {
	bin := crashBinary(t)
	reg := ociRegistry(t)
	base := pushBase(t, reg, "race")
	const racers, rounds = 8, 8
	t.Run("default", func(t *testing.T) {
		c := raceOCI(t, bin, reg, base, "", racers, rounds)
		if c.lost != 0 {
			t.Errorf("%d of %d publishers that exited 0 lost their key", c.lost, c.published)
		}
		if c.published < rounds {
			t.Errorf("only %d publishers published in %d rounds", c.published, rounds)
		}
	})
	t.Run("no-settle", func(t *testing.T) {
		c := raceOCI(t, bin, reg, base, "&settle=0", racers, rounds)
		if c.published < rounds {
			t.Errorf("only %d publishers published in %d rounds", c.published, rounds)
		}
	})
}
