package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// RenderOptions configure PlanRender.
type RenderOptions struct {
	Set *config.SetConfig
	// Keys is the assembled set, from Build with KeepsLive: an optional source that is down
	// keeps its keys that an earlier render in Dir published.
	Keys *jwks.Set
	// Dir is the build context directory. What an earlier render left there (the JWKS nginx
	// serves, and the state kept outside html/) is what is live.
	Dir string
	// Against is the URL verifiers fetch the set from; when set, the change is judged against
	// the document served there too (a fresh Dir, as in CI). It must pass
	// served.CheckPublicURL.
	Against string
	// Client fetches Against; nil means http.DefaultClient.
	Client  *http.Client
	Now     time.Time
	Version string
	// AllowRemoval lists the kids the operator lets go (--allow-removal), for PlanOptions.
	AllowRemoval []string
}

// RenderPlan is what rendering a set into a build context would change. It writes nothing;
// Render runs the rotation guard over it and only then returns the files.
type RenderPlan struct {
	// Plans are what the guard judges: against the earlier render in Dir, when there is one,
	// and against the served document when Against is set.
	Plans []*Plan
	// First is true when nothing was live: no earlier render in Dir, and no Against URL or
	// nothing served there.
	First bool

	dir, against *Plan
	o            RenderOptions
}

// Keys is the set rendered: the built keys plus the live keys kept for unavailable sources.
func (r *RenderPlan) Keys() *jwks.Set { return r.dir.keys }

// PlanRender reads what an earlier render left in o.Dir, and the document served at
// o.Against when set, and plans rendering o.Keys over them as publish plans a target: the
// same planner, the same state, so the rotation guard judges a render like a publication.
func PlanRender(ctx context.Context, o RenderOptions) (*RenderPlan, error) {
	if o.Set == nil || o.Keys == nil {
		return nil, errors.New("render: no set")
	}
	d := Destination{URL: o.Dir, Target: contextTarget{dir: o.Dir}, PublicURL: jwksURIFor(o.Set)}
	po := PlanOptions{Set: o.Set, Keys: o.Keys, Now: o.Now, Version: o.Version, AllowRemoval: o.AllowRemoval}
	dp, err := PlanTarget(ctx, d, po)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", o.Dir, err)
	}
	rp := &RenderPlan{dir: dp, o: o, First: dp.First}
	if !dp.First || o.Against == "" {
		rp.Plans = append(rp.Plans, dp)
	}
	if o.Against != "" {
		po.Keys = dp.keys // with the live keys kept for unavailable sources
		ap, err := PlanAgainst(ctx, o.Client, o.Against, po)
		if err != nil {
			return nil, fmt.Errorf("render: judging against the served document: %w", err)
		}
		rp.against = ap
		rp.Plans = append(rp.Plans, ap)
		rp.First = rp.First && ap.First
	}
	return rp, nil
}

// Render runs the rotation guard over every plan (a *GuardError when it refuses: nothing may
// be written) and returns the build context's files, the state last: NextState over what was
// live, with the removals an override let through recorded, so supersession and timing carry
// over from one render to the next.
func (r *RenderPlan) Render(params templates.Params, g GuardOptions) ([]ContextFile, error) {
	if err := Guard(r.Plans, g); err != nil {
		return nil, err
	}
	if r.dir.First && r.against != nil {
		// A fresh directory: the served keys are what is live, adopted as a target's live
		// document without a state is.
		r.dir.nextState = rotation.NextState(nil, r.against.live, r.dir.keys, r.o.Now)
	}
	if r.against != nil {
		r.against.nextState = r.dir.nextState
	}
	for _, p := range r.Plans {
		if err := p.recordOverrides(g); err != nil {
			return nil, err
		}
	}
	state, err := r.dir.nextState.Encode()
	if err != nil {
		return nil, err
	}
	return RenderContext(ContextOptions{Set: r.o.Set, Keys: r.dir.keys, Params: params, State: state})
}

// contextTarget reads an earlier render in a build context directory as a target: the
// documents nginx serves from html/ and the state render keeps outside it. Only PlanRender
// reads it; WriteContext writes the directory.
type contextTarget struct{ dir string }

func contextNames() target.Names {
	return target.Names{JWKS: ContextJWKS, Gzip: ContextJWKS + target.GzipSuffix, Discovery: ContextDiscovery, State: ContextState, WellKnown: true}
}

// Read returns the files of an earlier render that exist; a missing directory is a fresh one.
// Headers are nginx.conf's, so none are stored (Attributes false).
func (t contextTarget) Read(ctx context.Context) (*target.Snapshot, error) {
	snap := &target.Snapshot{Names: contextNames(), Objects: map[string]*Object{}}
	for _, name := range snap.Names.All() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := readContextFile(filepath.Join(t.dir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the earlier render: %w (fix: restore or remove it, or render into a new directory with --against URL)", err)
		}
		snap.Objects[name] = &Object{Name: name, Body: data}
	}
	return snap, nil
}

// Write is never called: a render plan is not applied, its files are written by WriteContext.
func (t contextTarget) Write(context.Context, *target.Snapshot, []target.Object) error {
	return fmt.Errorf("render %s: a build context is written by WriteContext", t.dir)
}

// readContextFile reads a regular file of at most target.MaxObjectSize bytes.
func readContextFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, target.MaxObjectSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > target.MaxObjectSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, target.MaxObjectSize)
	}
	return data, nil
}
