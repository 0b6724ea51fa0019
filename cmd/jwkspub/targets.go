package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/target"
	targetblob "github.com/jwkspub/jwkspub/publish/target/blob"
	"github.com/jwkspub/jwkspub/publish/target/file"
	"github.com/jwkspub/jwkspub/publish/target/oci"
)

// schemes is the one place target URL schemes are bound to target implementations: an
// explicit mux, so what the binary can write to is read here. Each entry checks a URL's shape
// (a usage error, before anything is read) and opens the target of one set.
var schemes = map[string]scheme{
	"file":   {check: checkFileURL, open: openFile},
	"s3":     {check: checkBlobURL, open: openBlob},
	"gs":     {check: checkBlobURL, open: openBlob},
	"azblob": {check: checkBlobURL, open: openBlob},
	"oci":    {check: checkImageURL, open: openImage},
}

type scheme struct {
	// check parses the URL without contacting anything and returns the identity of what it
	// names: two sets at one identity would overwrite each other.
	check func(raw string) (identity string, err error)
	open  func(ctx context.Context, o openOptions, tc config.TargetConfig, set *config.SetConfig) (target.Target, error)
}

// openOptions returns what opening this run's targets needs.
func (g *globals) openOptions(e env) openOptions {
	return openOptions{buckets: newBucketCache(bucketOpeners()), locks: &oci.RepoLocks{}, onWrite: crashHook(e.lookup), logger: g.logger}
}

// openOptions is what opening targets needs from the run: the bucket cache, and the hook the
// crash tests set.
type openOptions struct {
	buckets *bucketCache
	// locks serialise image pushes to one repository: the registry fails a manifest while
	// another target's blobs are in flight there.
	locks   *oci.RepoLocks
	onWrite func(point string)
	logger  *slog.Logger
}

// schemeOf returns the mux entry for a target URL.
func schemeOf(raw string) (scheme, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return scheme{}, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	s, ok := schemes[u.Scheme]
	if !ok {
		return scheme{}, fmt.Errorf("target %s: unknown scheme %q (one of %s)", raw, u.Scheme, strings.Join(config.TargetSchemes, ", "))
	}
	return s, nil
}

// checkTarget checks a target URL's shape and returns its identity.
func checkTarget(raw string) (string, error) {
	s, err := schemeOf(raw)
	if err != nil {
		return "", err
	}
	return s.check(raw)
}

// openTarget opens one configured target of set.
func openTarget(ctx context.Context, o openOptions, tc config.TargetConfig, set *config.SetConfig) (publish.Destination, error) {
	s, err := schemeOf(tc.URL)
	if err != nil {
		return publish.Destination{}, err
	}
	t, err := s.open(ctx, o, tc, set)
	if err != nil {
		return publish.Destination{}, err
	}
	return publish.Destination{URL: tc.URL, Target: t, PublicURL: tc.PublicURL}, nil
}

func checkFileURL(raw string) (string, error) {
	dir, name, _, err := file.ParseURL(raw)
	if err != nil {
		return "", err
	}
	return "file://" + filepath.Join(dir, name), nil
}

// openFile opens a directory target. The set's output.gzip adds the .gz sibling.
func openFile(_ context.Context, o openOptions, tc config.TargetConfig, set *config.SetConfig) (target.Target, error) {
	dir, name, mode, err := file.ParseURL(tc.URL)
	if err != nil {
		return nil, err
	}
	return file.New(dir, name, file.Options{Mode: mode, Gzip: set.Output.Gzip, CreateDir: true, Logger: o.logger, OnWrite: o.onWrite})
}

func checkBlobURL(raw string) (string, error) {
	if _, _, err := targetblob.ParseURL(raw); err != nil {
		return "", err
	}
	return raw, nil
}

// openBlob opens an object-store target. The stores take credentials from each cloud's
// standard chain: AWS environment, shared profile and web identity;
// GOOGLE_APPLICATION_CREDENTIALS and workload identity (STORAGE_EMULATOR_HOST for an
// emulator); Azure environment, connection string and managed identity.
func openBlob(ctx context.Context, o openOptions, tc config.TargetConfig, _ *config.SetConfig) (target.Target, error) {
	bucketURL, key, err := targetblob.ParseURL(tc.URL)
	if err != nil {
		return nil, err
	}
	b, err := o.buckets.get(ctx, bucketURL)
	if err != nil {
		return nil, fmt.Errorf("target %s: opening: %w", tc.URL, err)
	}
	return targetblob.New(tc.URL, b, key, targetblob.Options{PublicRead: tc.PublicRead, OnWrite: o.onWrite, Logger: o.logger})
}

// bucketOpeners binds the object-store schemes to gocloud.dev drivers. s3blob's URLOpener
// reads the AWS chain itself; gcsblob and azureblob keep their credential-chain openers
// unexported, registered in gocloud's default mux, so their schemes are delegated there.
func bucketOpeners() *blob.URLMux {
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, &s3blob.URLOpener{})
	mux.RegisterBucket(gcsblob.Scheme, defaultOpener{})
	mux.RegisterBucket(azureblob.Scheme, defaultOpener{})
	return mux
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
	runner *publish.Runner
	closes []func() error
}

func (p *planned) close() {
	for _, c := range p.closes {
		_ = c()
	}
}

// runner is the library's Runner wired to this run: the sources of each set, the scheme table
// of targets, the crash hook of test builds.
func (g *globals) runner(e env) (*publish.Runner, func() error) {
	oo := g.openOptions(e)
	return &publish.Runner{
		Sources: g.sourcesFor,
		Open: func(ctx context.Context, tc config.TargetConfig, set *config.SetConfig) (publish.Destination, error) {
			return openTarget(ctx, oo, tc, set)
		},
		Identity: checkTarget,
		Logger:   g.logger,
		Version:  version,
	}, oo.buckets.close
}

// planAll builds every set, then plans it at each of its targets (or against a public URL).
// allow is --allow-removal: an earlier key a source reads by id (an aws-kms: alias's) is then
// not kept, so the guard can let it go.
func planAll(c context.Context, g *globals, e env, against string, now time.Time, allow []string) (*planned, error) {
	out := &planned{}
	rec := recordOf(c)
	if rec != nil {
		rec.planned = out
	}
	r, closeFn := g.runner(e)
	r.AllowRemoval = allow
	out.runner, out.closes = r, append(out.closes, closeFn)
	if against != "" {
		if len(g.cfg.Sets) != 1 {
			return nil, usagef("--against compares one set with one URL; choose the set with --set")
		}
		set := &g.cfg.Sets[0]
		built, err := r.Build(c, set, now)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			rec.built[set.Name] = built
		}
		p, err := publish.PlanAgainst(c, &http.Client{Timeout: 30 * time.Second}, against, publish.PlanOptions{Set: set, Keys: built, Now: now, Version: version})
		if err != nil {
			return nil, err
		}
		out.plans = []*publish.Plan{p}
		return out, nil
	}
	pl, err := r.Plan(c, g.cfg.Sets, now)
	var ce *publish.ConfigError
	if errors.As(err, &ce) {
		out.close()
		return nil, usagef("%s", ce.Msg)
	}
	if err != nil {
		out.close()
		return nil, err
	}
	if rec != nil {
		maps.Copy(rec.built, pl.Built)
	}
	out.plans = pl.Plans
	for _, s := range pl.Stale {
		out.stale = append(out.stale, staleTarget{set: s.Set, target: s.Target, err: s.Err})
	}
	return out, nil
}

// bucketCache opens each bucket URL once per run: many sets commonly share one bucket, and an
// object-store client is costly to make (credential chain, connection pool).
type bucketCache struct {
	mux  *blob.URLMux
	mu   sync.Mutex
	open map[string]*bucketEntry
}

type bucketEntry struct {
	once sync.Once
	b    *blob.Bucket
	err  error
}

func newBucketCache(mux *blob.URLMux) *bucketCache {
	return &bucketCache{mux: mux, open: map[string]*bucketEntry{}}
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

// staleList is the stale targets as the library names them, for reports.
func (p *planned) staleList() []publish.Stale {
	return staleOf(p.stale)
}

func staleOf(in []staleTarget) []publish.Stale {
	out := make([]publish.Stale, 0, len(in))
	for _, s := range in {
		out = append(out, publish.Stale{Set: s.set, Target: s.target, Err: s.err})
	}
	return out
}

// staleError lists the targets that are stale: exit 3 when one of them was refused by the
// guard, else exit 4 when others were written or are current, else exit 1.
func staleError(stale []staleTarget, current int) error {
	msg := fmt.Errorf("%d target(s) stale, %d current (stale targets may still serve the previous document: fix the cause and run publish again):\n%s", len(stale), current, staleLines(stale))
	// A target whose re-plan after a lost race the guard refused is a refusal, as it would
	// be without the race: one verdict, one exit code (3), whatever else was written.
	for _, st := range stale {
		var ge *publish.GuardError
		if errors.As(st.err, &ge) {
			return &codeError{code: exitRefused, err: msg}
		}
	}
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
// the guard's verdict, the rotation timeline (before and after with change, as diff shows
// it), then the stale targets, so a reviewer sees all in the run's summary.
func appendSummary(path, title string, change bool, plans []*publish.Plan, v publish.Verdict, stale []staleTarget) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	if err := report.WritePlanMarkdown(f, title, plans); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	if err := report.WriteVerdictMarkdown(f, v); err != nil {
		f.Close()
		return fmt.Errorf("step summary: %w", err)
	}
	// A refused run wrote nothing: its plans' "after" never happened.
	if len(v.Refused) == 0 {
		if err := report.WritePlanTimelinesMarkdown(f, plans, change); err != nil {
			f.Close()
			return fmt.Errorf("step summary: %w", err)
		}
	}
	for _, s := range stale {
		if _, err := fmt.Fprintf(f, "**%s** → `%s`: **stale**: %s\n\n", s.set, s.target, strings.ReplaceAll(s.err.Error(), "\n", " ")); err != nil {
			f.Close()
			return fmt.Errorf("step summary: %w", err)
		}
	}
	return f.Close()
}
