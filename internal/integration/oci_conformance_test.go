//go:build integration

package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// raceCounts tallies one racing run: how the publishers exited, and how many exited 0 with
// their key missing from the final image (lost updates).
type raceCounts struct {
	published, lost, refusedByGuard, lostTwice, other int
}

// raceOCI races racers `jwkspub publish` processes, rounds times, at one fresh oci:// tag per
// round, each adding its own key (k10, k11, ...) to the set k1 that the round first publishes;
// query is appended to the target URL. Exits other than 0, 3 (the guard refused the re-plan)
// and 1 (a second lost race) fail the test; lost updates are counted, not failed, so the caller
// decides what the number must be.
func raceOCI(t *testing.T, bin, reg, base, query string, racers, rounds int) raceCounts {
	t.Helper()
	var c raceCounts
	repo := ociRepo(t, reg)
	for round := range rounds {
		dir := t.TempDir()
		url := fmt.Sprintf("oci://%s:round%d?base=%s%s", repo, round, base, query)
		first := filepath.Join(dir, "base")
		writeKey(t, first, 1)
		if code, stderr := runCrash(bin, crashConfig(t, dir, first, url), nil, 0, ""); code != 0 {
			t.Fatalf("round %d: first publication: exit %d\n%s", round, code, stderr)
		}
		configs := make([]string, racers)
		for i := range racers {
			d := filepath.Join(dir, fmt.Sprintf("p%d", i))
			keys := filepath.Join(d, "keys")
			writeKey(t, keys, 1)
			writeKey(t, keys, byte(10+i))
			configs[i] = crashConfig(t, d, keys, url)
		}
		codes := make([]int, racers)
		stderrs := make([]string, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { codes[i], stderrs[i] = runCrash(bin, configs[i], nil, 0, "") })
		}
		wg.Wait()
		loc, err := oci.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		it, err := oci.New(loc, oci.Options{SetName: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		kids := consistent(t, it, true)
		for i, code := range codes {
			kid := fmt.Sprintf("k%d", 10+i)
			switch code {
			case 0:
				c.published++
				if !slices.Contains(kids, kid) {
					c.lost++
					t.Logf("round %d: publisher %d exited 0 but %s is not in the final image %v", round, i, kid, kids)
				}
			case 3:
				c.refusedByGuard++
				if !strings.Contains(stderrs[i], "STALE") && !strings.Contains(stderrs[i], "refused") {
					t.Errorf("round %d: publisher %d exited 3 without saying why:\n%s", round, i, stderrs[i])
				}
			case 1:
				c.lostTwice++
				if !strings.Contains(stderrs[i], "lost a second race") {
					t.Errorf("round %d: publisher %d: exit 1 that is not a second lost race:\n%s", round, i, stderrs[i])
				}
			default:
				c.other++
				t.Errorf("round %d: publisher %d: exit %d\n%s", round, i, code, stderrs[i])
			}
		}
	}
	t.Logf("%d rounds of %d publishers racing at one oci:// tag%s: %d exited 0, %d of them lost their key (lost updates); %d refused by the guard after re-planning (exit 3), %d lost a second race (exit 1)",
		rounds, racers, query, c.published, c.lost, c.refusedByGuard, c.lostTwice)
	return c
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
