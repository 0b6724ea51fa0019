package publish

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// ContextFile is one file of the nginx image build context.
type ContextFile struct {
	// Path is slash-separated and relative to the context directory.
	Path string
	Data []byte
	// ModTime is derived from Data (see ContentModTime), so the ETag nginx computes from it
	// changes whenever the content does.
	ModTime time.Time
}

// ContextOptions configure RenderContext.
type ContextOptions struct {
	Set  *config.SetConfig
	Keys *jwks.Set // the assembled set, from Build
	// Params are the nginx and image settings (listen address, logs, base image). Cache-Control,
	// Content-Type and whether to serve the discovery document come from Set and override them.
	Params templates.Params
	// JWKSURI is the discovery document's jwks_uri; empty means the first target's public_url,
	// else the issuer's /.well-known/jwks.json.
	JWKSURI string
	// State is the set's state object (see PlanRender); nil leaves it out. It is written last,
	// as ContextState.
	State []byte
}

// Paths of the documents inside a build context.
const (
	ContextJWKS      = templates.DocRoot + templates.JWKSPath
	ContextDiscovery = templates.DocRoot + templates.DiscoveryPath
	// ContextState is the state render keeps between renders, at the top of the context
	// directory: outside html/, nginx's root, so no request can reach it whatever nginx.conf
	// serves, and not copied into the image by the Dockerfile.
	ContextState = "jwks.json" + target.StateSuffix
)

// contextFiles are every file RenderContext may write: WriteContext removes the ones a render
// no longer produces (a discovery document after the issuer was removed).
var contextFiles = []string{
	templates.Dockerfile, templates.NginxConf,
	ContextJWKS, ContextJWKS + ".gz",
	ContextDiscovery, ContextDiscovery + ".gz",
	ContextState,
}

// RenderContext returns every file of the nginx image build context for one set: Dockerfile,
// nginx.conf, the JWKS and its precompressed copy, and the discovery document (and its copy)
// when the set has an issuer. It only computes; WriteContext writes.
func RenderContext(o ContextOptions) ([]ContextFile, error) {
	if o.Set == nil || o.Keys == nil {
		return nil, errors.New("render: no set")
	}
	p := o.Params
	p.CacheControl = o.Set.Output.CacheControl
	if p.CacheControl == "" {
		p.CacheControl = config.DefaultCacheControl
	}
	p.ContentType = o.Set.Output.ContentType
	if p.ContentType == "" {
		p.ContentType = config.DefaultContentType
	}
	p.Discovery = o.Set.Issuer != ""
	conf, err := templates.Render(p)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
	}
	doc, err := jwks.Encode(o.Keys, o.Set.Output.Pretty)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
	}
	var files []ContextFile
	add := func(name string, data []byte) {
		files = append(files, ContextFile{Path: name, Data: data, ModTime: templates.ContentModTime(data)})
	}
	add(templates.Dockerfile, conf[templates.Dockerfile])
	add(templates.NginxConf, conf[templates.NginxConf])
	add(ContextJWKS, doc)
	add(ContextJWKS+".gz", templates.Gzip(doc))
	if o.Set.Issuer != "" {
		uri := o.JWKSURI
		if uri == "" {
			uri = jwksURIFor(o.Set)
		}
		disc, err := served.EncodeDiscovery(o.Set.Issuer, uri, o.Keys)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", o.Set.Name, err)
		}
		add(ContextDiscovery, disc)
		add(ContextDiscovery+".gz", templates.Gzip(disc))
	}
	if o.State != nil {
		add(ContextState, o.State)
	}
	return files, nil
}

// jwksURIFor is where verifiers fetch the set: the first target's public URL, else the
// issuer's well-known path.
func jwksURIFor(s *config.SetConfig) string {
	for _, t := range s.Targets {
		if t.PublicURL != "" {
			return t.PublicURL
		}
	}
	return served.DefaultJWKSURI(s.Issuer)
}

// WriteContext writes files into dir (created if needed): each file atomically, with mode
// 0644 in 0755 directories and its ModTime, then removes the files of an earlier render that
// this one no longer has. Readers such as a running nginx see whole files, old or new.
func WriteContext(ctx context.Context, dir string, files []ContextFile) error {
	keep := map[string]bool{}
	for _, f := range files {
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return fmt.Errorf("render: %q is outside the context directory", f.Path)
		}
		keep[f.Path] = true
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("render %s: %w", dir, err)
		}
		name := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := mkdirAll(dir, path.Dir(f.Path)); err != nil {
			return err
		}
		if err := WriteFileAtomic(name, f.Data, 0o644); err != nil {
			return fmt.Errorf("render: %w", err)
		}
		if err := os.Chtimes(name, f.ModTime, f.ModTime); err != nil {
			return fmt.Errorf("render: %w", err)
		}
	}
	for _, p := range contextFiles {
		if keep[p] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("render: removing a file of an earlier render: %w", err)
		}
	}
	return nil
}

// mkdirAll creates dir/sub, giving every level below dir mode 0755 so that a non-root nginx
// can read the documents whatever the umask.
func mkdirAll(dir, sub string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	p := dir
	for _, part := range splitPath(sub) {
		p = filepath.Join(p, part)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("render: %w", err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("render: %w", err)
		}
	}
	return nil
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return append(splitPath(path.Dir(p)), path.Base(p))
}
