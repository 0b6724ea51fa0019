//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/file"
	"github.com/jwkspub/jwkspub/publish/target/oci"
)

// crashBinary builds jwkspub with the crash hook (-tags crashtest): JWKSPUB_CRASH_AT=N makes the
// process SIGKILL itself at the Nth write point of a target.
func crashBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwkspub")
	out, err := exec.Command("go", "build", "-tags", "crashtest disable_grpc_modules", "-o", bin, "github.com/jwkspub/jwkspub/cmd/jwkspub").CombinedOutput()
	if err != nil {
		t.Fatalf("building jwkspub -tags crashtest: %v\n%s", err, out)
	}
	return bin
}

// writeKey writes an Ed25519 public JWK made from seed, kid k<seed>.
func writeKey(t *testing.T, dir string, seed byte) {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	jwk := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k%d"}`, base64.RawURLEncoding.EncodeToString(pub), seed)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("k%d.json", seed)), []byte(jwk), 0o644); err != nil {
		t.Fatal(err)
	}
}

// crashConfig is a set of the keys in keysDir at the target URL.
func crashConfig(t *testing.T, dir, keysDir, targetURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`sets:
  - name: prod
    sources:
      - "file:%s/*.json"
    output: {cache_control: "public, max-age=60", gzip: true}
    rotation: {max_token_lifetime: 1h}
    targets: [%q]
`, keysDir, targetURL)
	p := filepath.Join(dir, "jwkspub.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCrash runs publish; at > 0 kills it at that write point. It returns the exit code
// (-9 for SIGKILL) and stderr.
func runCrash(bin, config string, env []string, at int, log string) (int, string) {
	cmd := exec.Command(bin, "publish", "--config", config)
	cmd.Env = append(os.Environ(), env...)
	if at > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("JWKSPUB_CRASH_AT=%d", at))
	}
	if log != "" {
		cmd.Env = append(cmd.Env, "JWKSPUB_CRASH_LOG="+log)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal()), stderr.String()
		}
		return ee.ExitCode(), stderr.String()
	}
	return -1, err.Error()
}

// consistent reads the target and checks what verifiers and the guard rely on: the JWKS is
// whole and parses, the .gz sibling (when present) is the gzip of some whole document, and
// every kid the state calls live is in the JWKS (the state never runs ahead of the document).
// With exact, the state's live kids must be exactly the document's.
func consistent(t *testing.T, tg target.Target, exact bool) []string {
	t.Helper()
	snap, err := tg.Read(context.Background())
	if err != nil {
		t.Fatalf("reading the target after the crash: %v", err)
	}
	doc := snap.Object(snap.Names.JWKS)
	if doc == nil {
		t.Fatal("the JWKS is gone")
	}
	live, err := jwks.ParseLive(doc.Body)
	if err != nil {
		t.Fatalf("the JWKS is not whole: %v\n%s", err, doc.Body)
	}
	var kids []string
	for _, k := range live {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	so := snap.Object(snap.Names.State)
	if so == nil {
		return kids
	}
	st, err := rotation.ParseState(so.Body)
	if err != nil {
		t.Fatalf("the state object is not whole: %v", err)
	}
	var stateLive []string
	for _, k := range st.Keys {
		if k.Live() {
			stateLive = append(stateLive, k.KID)
		}
	}
	slices.Sort(stateLive)
	for _, k := range stateLive {
		if !slices.Contains(kids, k) {
			t.Errorf("the state calls %s live, the document %v does not have it", k, kids)
		}
	}
	if exact && !slices.Equal(stateLive, kids) {
		t.Errorf("state's live kids %v, document's %v", stateLive, kids)
	}
	return kids
}

// crashTarget is a kind of target the crash tests run against: fresh gives the URL of a new,
// empty location; open a handle that reads it through the library, as the next run would.
type crashTarget struct {
	name   string
	fresh  func(t *testing.T) string
	open   func(t *testing.T, url string) target.Target
	random int // random kill times (the directory, the README's main job, gets the most)
}

func crashTargets(t *testing.T) []crashTarget {
	dir := crashTarget{name: "file", random: 200,
		fresh: func(t *testing.T) string {
			return "file://" + filepath.Join(t.TempDir(), "www", ".well-known", "jwks.json")
		},
		open: func(t *testing.T, url string) target.Target {
			d, name, _, err := file.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			ft, err := file.New(d, name, file.Options{Gzip: true})
			if err != nil {
				t.Fatal(err)
			}
			return ft
		}}
	s3 := stores(t)[0]
	bucket := crashTarget{name: "s3", random: 30,
		fresh: func(t *testing.T) string {
			_, name := freshTarget(t, s3)
			return s3.targetURL(name)
		},
		open: func(t *testing.T, url string) target.Target { return openTarget(t, url).Target }}
	reg := ociRegistry(t)
	image := crashTarget{name: "oci", random: 30,
		fresh: func(t *testing.T) string {
			return "oci://" + ociRepo(t, reg) + ":prod?base=" + pushBase(t, reg, "crash")
		},
		open: func(t *testing.T, url string) target.Target {
			loc, err := oci.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			it, err := oci.New(loc, oci.Options{SetName: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			return it
		}}
	return []crashTarget{dir, bucket, image}
}

// TestCrashAtEveryWritePoint kills `jwkspub publish` with SIGKILL at each write point of a
// rotation, on every kind of target, then at random times over many runs: after each kill the
// served document is whole, the state never runs ahead of it, the next publish exits 0, and
// afterwards the state agrees with the document, supersession included.
func TestCrashAtEveryWritePoint(t *testing.T) {
	bin := crashBinary(t)
	for _, ct := range crashTargets(t) {
		t.Run(ct.name, func(t *testing.T) { crashAtEveryWritePoint(t, bin, ct) })
	}
}

func crashAtEveryWritePoint(t *testing.T, bin string, ct crashTarget) {
	points := 0
	var whole time.Duration // how long an uninterrupted publish takes: the random kills' window
	fresh := func(t *testing.T) (string, target.Target) {
		dir := t.TempDir()
		keys := filepath.Join(dir, "keys")
		writeKey(t, keys, 1)
		url := ct.fresh(t)
		config := crashConfig(t, dir, keys, url)
		if code, stderr := runCrash(bin, config, nil, 0, ""); code != 0 {
			t.Fatalf("first publication: exit %d\n%s", code, stderr)
		}
		writeKey(t, keys, 2) // the rotation each crash interrupts
		return config, ct.open(t, url)
	}
	check := func(t *testing.T, config string, tg target.Target) {
		t.Helper()
		consistent(t, tg, false)
		if code, stderr := runCrash(bin, config, nil, 0, ""); code != 0 {
			t.Fatalf("the run after the crash: exit %d\n%s", code, stderr)
		}
		kids := consistent(t, tg, true)
		if !slices.Equal(kids, []string{"k1", "k2"}) {
			t.Errorf("after the repair the document has %v, want [k1 k2]", kids)
		}
		snap, err := tg.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st, _ := rotation.ParseState(snap.Object(snap.Names.State).Body)
		if k := st.Key("k1"); k == nil || k.Superseded == nil {
			t.Errorf("the supersession of k1 was lost: %+v", k)
		}
		if ft, ok := tg.(*file.Target); ok {
			if left, _ := filepath.Glob(filepath.Join(ft.Dir(), ".*.tmp")); len(left) != 0 {
				t.Errorf("temporary files left after the repair: %v", left)
			}
		}
	}
	t.Run("count", func(t *testing.T) {
		config, _ := fresh(t)
		log := filepath.Join(t.TempDir(), "points")
		start := time.Now()
		code, stderr := runCrash(bin, config, nil, 0, log)
		whole = time.Since(start)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		b, _ := os.ReadFile(log)
		points = strings.Count(string(b), "\n")
		t.Logf("a rotation on a %s target has %d write points:\n%s", ct.name, points, b)
		if points < 2 {
			t.Fatalf("only %d write points reported", points)
		}
	})
	for k := 1; k <= points; k++ {
		t.Run(fmt.Sprintf("point-%d", k), func(t *testing.T) {
			config, tg := fresh(t)
			if code, stderr := runCrash(bin, config, nil, k, ""); code != -int(syscall.SIGKILL) {
				t.Fatalf("not killed at write point %d: exit %d\n%s", k, code, stderr)
			}
			check(t, config, tg)
		})
	}
	t.Run("random", func(t *testing.T) {
		runs := ct.random
		if testing.Short() {
			runs = min(runs, 10)
		}
		killed, finished := 0, 0
		for i := range runs {
			config, tg := fresh(t)
			cmd := exec.Command(bin, "publish", "--config", config)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Anywhere from the start to a little past the end of an uninterrupted run.
			time.Sleep(rand.N(whole*6/5 + time.Millisecond))
			_ = cmd.Process.Signal(syscall.SIGKILL)
			err := cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				killed++
			} else if err == nil {
				finished++
			} else {
				t.Fatalf("run %d: %v", i, err)
			}
			check(t, config, tg)
			if t.Failed() {
				t.Fatalf("run %d failed", i)
			}
		}
		t.Logf("%s: %d random SIGKILLs within %v: %d killed mid-run, %d had finished; every target whole and repaired", ct.name, runs, whole*6/5, killed, finished)
	})
}

// TestRacingPublishers races N `jwkspub publish` processes at one directory target, each
// adding its own key to the same live set: a publisher that lost the race re-plans, and the
// guard then refuses removing the keys the others published moments ago. Every publisher that
// exits 0 must find its key in the final document, and the state's live kids must be exactly
// the document's.
func TestRacingPublishers(t *testing.T) {
	bin := crashBinary(t)
	const racers, rounds = 6, 8
	c := race(t, bin, racers, rounds, "directory", func(_ int, dir string) (string, func() target.Target) {
		www := filepath.Join(dir, "www", ".well-known")
		return "file://" + filepath.Join(www, "jwks.json"), func() target.Target {
			ft, err := file.New(www, "jwks.json", file.Options{Gzip: true})
			if err != nil {
				t.Fatal(err)
			}
			return ft
		}
	})
	if c.lost != 0 {
		t.Errorf("%d of %d publishers that exited 0 lost their key", c.lost, c.published)
	}
	if c.published < rounds {
		t.Errorf("only %d publishers published in %d rounds", c.published, rounds)
	}
}

// raceCounts tallies one racing run: how the publishers exited, and how many exited 0 with
// their key missing from the final document (lost updates).
type raceCounts struct {
	published, lost, refusedByGuard, lostTwice, other int
}

// race races racers `jwkspub publish` processes, rounds times, at the target at(round, dir)
// names (a fresh one per round), each adding its own key (k10, k11, ...) to the set k1 that
// the round first publishes; the returned func opens the target to read the result. Exits
// other than 0, 3 (the guard refused the re-plan) and 1 (a second lost race) fail the test;
// lost updates are counted, not failed, so the caller decides what the number must be.
func race(t *testing.T, bin string, racers, rounds int, what string, at func(round int, dir string) (string, func() target.Target)) raceCounts {
	t.Helper()
	var c raceCounts
	for round := range rounds {
		dir := t.TempDir()
		url, open := at(round, dir)
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
		kids := consistent(t, open(), true)
		for i, code := range codes {
			kid := fmt.Sprintf("k%d", 10+i)
			switch code {
			case 0:
				c.published++
				if !slices.Contains(kids, kid) {
					c.lost++
					t.Logf("round %d: publisher %d exited 0 but %s is not in the final document %v", round, i, kid, kids)
				}
			case 3:
				c.refusedByGuard++ // refused by the guard after re-planning a lost race: exit 3, as without the race
				if !strings.Contains(stderrs[i], "STALE") && !strings.Contains(stderrs[i], "refused") {
					t.Errorf("round %d: publisher %d exited 3 without saying why:\n%s", round, i, stderrs[i])
				}
			case 1:
				c.lostTwice++ // lost twice: gives up, nothing of its own written
				if !strings.Contains(stderrs[i], "lost a second race") {
					t.Errorf("round %d: publisher %d: exit 1 that is not a second lost race:\n%s", round, i, stderrs[i])
				}
			default:
				c.other++
				t.Errorf("round %d: publisher %d: exit %d\n%s", round, i, code, stderrs[i])
			}
		}
	}
	t.Logf("%d rounds of %d publishers racing at one %s: %d exited 0, %d of them lost their key (lost updates); %d refused by the guard after re-planning (exit 3), %d lost a second race (exit 1)",
		rounds, racers, what, c.published, c.lost, c.refusedByGuard, c.lostTwice)
	return c
}
