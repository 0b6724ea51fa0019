package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"

	"github.com/jwkspub/jwkspub/publish"
)

// openers is the one place target URL schemes are bound to gocloud.dev drivers. It is an
// explicit mux, not blob.DefaultURLMux filled by blank imports: what the binary can write to
// is read here. Cloud drivers register here when they land.
// write is false for commands that only read (diff, status, publish --dry-run): they must not
// even create a directory.
func openers(write bool) *blob.URLMux {
	mux := new(blob.URLMux)
	// CreateDir: the first publication makes the directory. NoTempDir: the temporary file
	// sits beside the document, so the final rename is atomic (never across file systems).
	mux.RegisterBucket(fileblob.Scheme, &fileblob.URLOpener{Options: fileblob.Options{CreateDir: write, NoTempDir: true}})
	// The object stores take credentials from each cloud's standard chain: AWS environment,
	// shared profile and web identity; GOOGLE_APPLICATION_CREDENTIALS and workload identity
	// (STORAGE_EMULATOR_HOST for an emulator); Azure environment, connection string and
	// managed identity. s3blob's URLOpener does this itself; gcsblob and azureblob keep their
	// credential-chain openers unexported, registered in gocloud's default mux, so their
	// schemes are delegated there.
	mux.RegisterBucket(s3blob.Scheme, &s3blob.URLOpener{})
	mux.RegisterBucket(gcsblob.Scheme, defaultOpener{})
	mux.RegisterBucket(azureblob.Scheme, defaultOpener{})
	return mux
}

// openTarget opens the bucket of one configured target. A directory that does not exist yet
// is, for a read-only command, a target with nothing published (a nil Bucket).
func openTarget(ctx context.Context, buckets *bucketCache, tc publish.TargetConfig, write bool) (*publish.Target, error) {
	mux := buckets.mux
	loc, err := publish.SplitTarget(tc.URL)
	if err != nil {
		return nil, err
	}
	if !mux.ValidBucketScheme(loc.Scheme) {
		return nil, fmt.Errorf("target %s: this jwkspub cannot write %s:// targets yet (it writes %s)", tc.URL, loc.Scheme, strings.Join(mux.BucketSchemes(), ", "))
	}
	b, err := buckets.get(ctx, loc.BucketURL)
	if err != nil && !write && loc.Scheme == "file" {
		if u, perr := url.Parse(loc.BucketURL); perr == nil {
			if _, serr := os.Stat(u.Path); errors.Is(serr, fs.ErrNotExist) {
				return &publish.Target{Location: loc, PublicURL: tc.PublicURL}, nil
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: opening: %w", tc.URL, err)
	}
	return &publish.Target{Location: loc, Bucket: b, PublicURL: tc.PublicURL, PublicRead: tc.PublicRead}, nil
}

// defaultOpener opens a URL through gocloud's default mux, where the gcsblob and azureblob
// packages register their credential-chain openers.
type defaultOpener struct{}

func (defaultOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}

// clock returns the time to work at.
func (e env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// staleTarget is a target that could not be planned or written.
type staleTarget struct {
	set, target string
	err         error
}

// planned is the outcome of planning every set at every target.
type planned struct {
	plans  []*publish.Plan
	stale  []staleTarget
	closes []func() error
}

func (p *planned) close() {
	for _, c := range p.closes {
		_ = c()
	}
}

// planAll builds every set, then plans it at each of its targets (or against a public URL).
// A set that fails to build stops everything (nothing is published after any source or policy
// error); a target that cannot be opened or read is recorded as stale and the others go on.
func planAll(c context.Context, g *globals, e env, against string, now time.Time, write bool) (*planned, error) {
	out := &planned{}
	rec := recordOf(c)
	if rec != nil {
		rec.planned = out
	}
	mux := openers(write)
	if against != "" && len(g.cfg.Sets) != 1 {
		return nil, usagef("--against compares one set with one URL; choose the set with --set")
	}
	seen := map[string]string{}
	for _, set := range g.cfg.Sets {
		for _, tc := range set.Targets {
			// Two sets at one target would overwrite each other's document and state.
			key := tc.URL
			if isImageTarget(tc.URL) {
				// One tag is one target, whatever base or platform each URL names.
				if loc, err := publish.ParseImageTarget(tc.URL); err == nil {
					key = loc.Tag.Name()
				}
			}
			if other, ok := seen[key]; ok && against == "" {
				return nil, usagef("sets %q and %q both publish to %s: give each set its own target", other, set.Name, tc.URL)
			}
			seen[key] = set.Name
		}
	}
	var jobs []planJob
	for i := range g.cfg.Sets {
		set := &g.cfg.Sets[i]
		if against == "" && len(set.Targets) == 0 {
			out.close()
			return nil, usagef("set %q has no targets: add targets: to the configuration, or pass --target URL", set.Name)
		}
		srcs, err := g.sourcesFor(set)
		if err != nil {
			out.close()
			return nil, err
		}
		built, err := publish.Build(c, publish.BuildOptions{Set: set, Sources: srcs, Now: now, Logger: g.logger, KeepsLive: true})
		if err != nil {
			out.close()
			return nil, err
		}
		if rec != nil {
			rec.built[set.Name] = built
		}
		opts := publish.PlanOptions{Set: set, Keys: built, Now: now, Version: version}
		if against != "" {
			p, err := publish.PlanAgainst(c, &http.Client{Timeout: 30 * time.Second}, against, opts)
			if err != nil {
				out.close()
				return nil, err
			}
			out.plans = append(out.plans, p)
			continue
		}
		for _, tc := range set.Targets {
			jobs = append(jobs, planJob{set: set.Name, tc: tc, opts: opts})
		}
	}
	// Reading what is live is network-bound: plan the targets in parallel, bounded, and keep
	// the results in configuration order so output and exit codes do not depend on timing.
	buckets := newBucketCache(mux, write)
	out.closes = append(out.closes, buckets.close)
	inParallel(len(jobs), func(i int) {
		j := &jobs[i]
		if isImageTarget(j.tc.URL) {
			it, err := imageTarget(j.tc)
			if err == nil {
				j.plan, err = publish.PlanImage(c, it, j.opts)
			}
			j.err = err
			return
		}
		t, err := openTarget(c, buckets, j.tc, write)
		if err == nil {
			j.plan, err = publish.PlanTarget(c, t, j.opts)
		}
		j.err = err
	})
	if c.Err() != nil {
		out.close()
		return nil, c.Err()
	}
	for _, j := range jobs {
		if j.err != nil {
			g.logger.Error("target failed", "set", j.set, "target", j.tc.URL, "err", j.err)
			out.stale = append(out.stale, staleTarget{set: j.set, target: j.tc.URL, err: j.err})
			continue
		}
		out.plans = append(out.plans, j.plan)
	}
	return out, nil
}

// planJob is one set at one target, planned by planAll.
type planJob struct {
	set  string
	tc   publish.TargetConfig
	opts publish.PlanOptions
	plan *publish.Plan
	err  error
}

// maxInFlight bounds the targets read or written at once: enough to hide a store's latency
// for a thousand sets, few enough not to trip its rate limits.
const maxInFlight = 16

// inParallel calls f(0..n-1) with at most maxInFlight calls running, and returns when all
// have returned. Each f writes only its own index's result.
func inParallel(n int, f func(i int)) {
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// bucketCache opens each bucket URL once per run: many sets commonly share one bucket, and an
// object-store client is costly to make (credential chain, connection pool).
type bucketCache struct {
	mux   *blob.URLMux
	write bool
	mu    sync.Mutex
	open  map[string]*bucketEntry
}

type bucketEntry struct {
	once sync.Once
	b    *blob.Bucket
	err  error
}

func newBucketCache(mux *blob.URLMux, write bool) *bucketCache {
	return &bucketCache{mux: mux, write: write, open: map[string]*bucketEntry{}}
}

// get opens bucketURL, or returns the bucket opened for it before.
func (bc *bucketCache) get(ctx context.Context, bucketURL string) (*blob.Bucket, error) {
	bc.mu.Lock()
	e, ok := bc.open[bucketURL]
	if !ok {
		e = &bucketEntry{}
		bc.open[bucketURL] = e
	}
	bc.mu.Unlock()
	e.once.Do(func() { e.b, e.err = bc.mux.OpenBucket(ctx, bucketURL) })
	return e.b, e.err
}

func (bc *bucketCache) close() error {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	for _, e := range bc.open {
		if e.b != nil {
			_ = e.b.Close()
		}
	}
	bc.open = map[string]*bucketEntry{}
	return nil
}

// staleError lists the targets that are stale: exit 4 when others were written or are
// current, else exit 1.
func staleError(stale []staleTarget, current int) error {
	msg := fmt.Errorf("%d target(s) stale, %d current (stale targets may still serve the previous document: fix the cause and run publish again):\n%s", len(stale), current, staleLines(stale))
	if current == 0 {
		return msg
	}
	return &codeError{code: exitPartial, err: msg}
}

// staleLines lists stale targets one per line, each naming its set once: library errors
// already start with the set, errors from opening a bucket do not.
func staleLines(stale []staleTarget) string {
	lines := make([]string, 0, len(stale))
	for _, s := range stale {
		msg := s.err.Error()
		if prefix := fmt.Sprintf("set %q", s.set); !strings.HasPrefix(msg, prefix) {
			msg = prefix + ": " + msg
		}
		lines = append(lines, "  "+msg)
	}
	return strings.Join(lines, "\n")
}

// appendSummary appends Markdown to the CI step summary file, when one is given: the plans,
// then the stale targets, so a reviewer sees both in the run's summary.
func appendSummary(path, title string, plans []*publish.Plan, stale []staleTarget) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if err := publish.WritePlanMarkdown(f, title, plans); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	for _, s := range stale {
		if _, err := fmt.Fprintf(f, "**%s** → `%s`: **stale**: %s\n\n", s.set, s.target, strings.ReplaceAll(s.err.Error(), "\n", " ")); err != nil {
			f.Close()
			return fmt.Errorf("step summary: %w", err)
		}
	}
	return f.Close()
}
