package oci

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// Labels jwkspub adds to the image config.
const (
	// LabelSet names the set the image serves: Read refuses an image serving another set.
	LabelSet        = "org.jwkspub.set"
	LabelJWKSSHA256 = "org.jwkspub.jwks.sha256"
	// The JWKS's headers, which nginx.conf serves it with: Read gives them to the objects so a
	// plan compares them like an object store's headers.
	LabelCacheControl = "org.jwkspub.cache-control"
	LabelContentType  = "org.jwkspub.content-type"
	// The OCI annotations for the base, so scanners and `crane rebase` know what lies below, and
	// Read knows when the base moved.
	LabelBaseName   = "org.opencontainers.image.base.name"
	LabelBaseDigest = "org.opencontainers.image.base.digest"
	// LabelParent is the manifest digest of the image the tag named when the write was
	// planned (absent on a first publication): the link a push follows back from the tag to
	// find whether a rival that planned on the same image overwrote it (see the package doc).
	LabelParent = "org.jwkspub.parent.digest"
)

// JWKSName is the JWKS's name at an image target: its path in the build context, which the
// rendered Dockerfile copies under the document root. The other names follow from it
// (target.NamesFor), so the objects are named exactly as the files `jwkspub render` writes.
const JWKSName = templates.DocRoot + templates.JWKSPath

// Headers of the objects nginx.conf serves beside the JWKS, and of the state object, which it
// does not serve but Read reports like any target.
const (
	discoveryContentType = "application/json" // OpenID Connect Discovery §4
	stateCacheControl    = "no-cache"
	stateContentType     = "application/json"
)

// Options configure a Target.
type Options struct {
	// Params are the nginx settings rendered into the image; zero means templates.Defaults().
	// Cache-Control, Content-Type and whether the discovery document is served come from the
	// objects written; the base image always comes from the URL's ?base=.
	Params templates.Params
	// Remote reaches the registry for the tag and the base: credentials
	// (remote.WithAuthFromKeychain), transport, user agent. The CLI builds them.
	Remote []remote.Option
	// SetName is recorded in the LabelSet label; Read refuses an image serving another set.
	SetName string
	// Locks serialises the pushes of every Target sharing it, per repository (see the package
	// doc: the registry's own races). Give all targets of one run the same Locks; nil gives this
	// Target locks of its own.
	Locks *RepoLocks
	// Logger receives debug lines for each push step and a warning for each retried race;
	// nil discards them.
	Logger *slog.Logger
	// OnWrite, when set, is called after the blobs are pushed ("blobs") and after the manifest
	// ("manifest"): a hook for tests that act between the steps.
	OnWrite func(point string)
}

// Target is an image target: the nginx image at a tag, whose document layer holds the JWKS,
// its .gz copy, the discovery document (and its copy) and the state object.
type Target struct {
	loc     Location
	params  templates.Params
	names   target.Names
	paths   map[string]string // object name -> path in the image, without the leading slash
	conf    string            // nginx.conf's path in the image
	remote  []remote.Option
	set     string
	locks   *RepoLocks
	log     *slog.Logger
	onWrite func(string)
}

var _ target.Target = (*Target)(nil)

// New returns the target at loc. It checks the nginx settings and that the rendered Dockerfile
// copies every object into the image; it reaches no registry.
func New(loc Location, o Options) (*Target, error) {
	if o.SetName == "" {
		return nil, fmt.Errorf("target %s: no set name (fix: set Options.SetName; the image records which set it serves)", loc.Raw)
	}
	p := o.Params
	if p == (templates.Params{}) {
		p = templates.Defaults()
	}
	p.BaseImage = loc.Base.Name()
	// Headers come from the JWKS at each write; any valid pair checks the other settings.
	check := p
	check.CacheControl, check.ContentType = stateCacheControl, stateContentType
	conf, err := templates.Render(check)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", loc.Raw, err)
	}
	spec, err := parseDockerfile(conf[templates.Dockerfile])
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", loc.Raw, err)
	}
	t := &Target{
		loc: loc, params: p, names: target.NamesFor(JWKSName, true), paths: map[string]string{},
		remote: slices.Clip(o.Remote), set: o.SetName, locks: o.Locks, log: o.Logger, onWrite: o.OnWrite,
	}
	if t.locks == nil {
		t.locks = &RepoLocks{}
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	for _, n := range append(t.names.All(), templates.NginxConf) {
		ip, ok := imagePath(spec.Copies, n)
		if !ok {
			return nil, fmt.Errorf("target %s: the rendered Dockerfile copies no %s into the image", loc.Raw, n)
		}
		t.paths[n] = ip
	}
	t.conf = t.paths[templates.NginxConf]
	delete(t.paths, templates.NginxConf)
	return t, nil
}

// Names are the names of the set's objects at this target: build-context paths.
func (t *Target) Names() target.Names { return t.names }

// Location is where the target is.
func (t *Target) Location() Location { return t.loc }

// opts are the remote options of one call.
func (t *Target) opts(ctx context.Context) []remote.Option {
	return append(slices.Clip(t.remote), remote.WithContext(ctx), remote.WithPlatform(t.loc.Platform))
}

// served are the headers the image serves the object called name with, given the JWKS's.
func (t *Target) served(name, cc, ct string) (cacheControl, contentType, contentEncoding string) {
	switch name {
	case t.names.Gzip:
		return cc, ct, "gzip"
	case t.names.Discovery:
		return cc, discoveryContentType, ""
	case t.names.State:
		return stateCacheControl, stateContentType, ""
	}
	return cc, ct, ""
}

// Read returns the documents and the state object of the image at the tag, with the headers
// its labels record, and the tag's manifest digest as the revision. An absent tag or
// repository is an empty snapshot. An image serving another set, or one whose top layer holds
// no JWKS (jwkspub did not build it), is an error. Outdated says why the image must be rebuilt
// although its documents are as planned: the base moved, or the settings render another
// nginx.conf or Dockerfile. Read reaches the registry of the base for that.
func (t *Target) Read(ctx context.Context) (*target.Snapshot, error) {
	var snap *target.Snapshot
	err := t.retryRace(ctx, "reading the image", func() error {
		var err error
		snap, err = t.read(ctx)
		return err
	})
	return snap, err
}

func (t *Target) read(ctx context.Context) (*target.Snapshot, error) {
	snap := &target.Snapshot{Names: t.names, Objects: map[string]*target.Object{}, Attributes: true}
	desc, err := remote.Get(t.loc.Tag, t.opts(ctx)...)
	if isNotFound(err) {
		return snap, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading the image at %s%s: %w", t.loc.Raw, t.loc.Tag, registryHint(err, t.loc.Tag), err)
	}
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("target %s: the tag %s names a %s, not an image, so jwkspub did not build it (fix: publish to another tag, or delete this one to publish afresh)", t.loc.Raw, t.loc.Tag, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("target %s: reading the image at %s: %w", t.loc.Raw, t.loc.Tag, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("target %s: reading the config of the image at %s%s: %w", t.loc.Raw, t.loc.Tag, registryHint(err, t.loc.Tag), err)
	}
	labels := cf.Config.Labels
	if other := labels[LabelSet]; other != "" && other != t.set {
		return nil, fmt.Errorf("target %s: the image at %s serves set %q, not %q; publishing would replace its keys (fix: give each set its own tag)", t.loc.Raw, t.loc.Tag, other, t.set)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return nil, fmt.Errorf("target %s: the image at %s has no layers (%v), so jwkspub did not build it (fix: publish to another tag, or delete this one to publish afresh)", t.loc.Raw, t.loc.Tag, err)
	}
	want := append(slices.Collect(maps.Values(t.paths)), t.conf)
	files, err := LayerFiles(layers[len(layers)-1], func(n string) bool { return slices.Contains(want, n) })
	if err != nil {
		return nil, fmt.Errorf("target %s: the image at %s: %w", t.loc.Raw, t.loc.Tag, err)
	}
	if _, ok := files[t.paths[t.names.JWKS]]; !ok {
		return nil, fmt.Errorf("target %s: the image at %s has no /%s in its top layer, so jwkspub did not build it (fix: publish to another tag, or delete this one to publish afresh)", t.loc.Raw, t.loc.Tag, t.paths[t.names.JWKS])
	}
	rev := desc.Digest.String()
	cc, ct := labels[LabelCacheControl], labels[LabelContentType]
	for _, n := range t.names.All() {
		body, ok := files[t.paths[n]]
		if !ok {
			continue
		}
		o := &target.Object{Name: n, Body: body, Revision: rev}
		o.CacheControl, o.ContentType, o.ContentEncoding = t.served(n, cc, ct)
		o.Metadata = map[string]string{target.MetaSHA256: o.SHA256()}
		snap.Objects[n] = o
	}
	snap.Revision, snap.Digest = rev, rev
	if snap.Outdated, err = t.outdated(ctx, desc.Digest, labels, files[t.conf], snap.Objects); err != nil {
		return nil, err
	}
	return snap, nil
}

// outdated says why the live image is not the one these settings build from its own
// documents, or "" when it is: the first check that differs names the cause, the last (a full
// rebuild compared by digest) catches every other input of the image.
func (t *Target) outdated(ctx context.Context, live v1.Hash, labels map[string]string, liveConf []byte, objs map[string]*target.Object) (string, error) {
	base, baseDigest, err := t.base(ctx)
	if err != nil {
		return "", err
	}
	if was := labels[LabelBaseDigest]; was != baseDigest.String() {
		if was == "" {
			was = "an unrecorded digest"
		}
		return fmt.Sprintf("the base image %s is now %s; the image was built on %s", t.loc.Base, baseDigest, was), nil
	}
	img, err := t.build(base, objs, labels[LabelParent])
	if err != nil {
		return fmt.Sprintf("the live documents cannot be rebuilt into an image with these settings (%v)", err), nil
	}
	if conf := t.confFor(objs); !bytes.Equal(conf, liveConf) {
		return "the nginx configuration these settings render differs from the image's", nil
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("target %s: %w", t.loc.Raw, err)
	}
	if d != live {
		return "the image these settings build from the live documents differs from the live one (its Dockerfile, labels or layout changed)", nil
	}
	return "", nil
}

// confFor is the nginx.conf the image of objs holds; nil when it cannot be rendered (build
// reports why).
func (t *Target) confFor(objs map[string]*target.Object) []byte {
	p, err := t.paramsFor(objs)
	if err != nil {
		return nil
	}
	conf, err := templates.Render(p)
	if err != nil {
		return nil
	}
	return conf[templates.NginxConf]
}

// paramsFor are the template settings of the image of objs: the JWKS's headers, and the
// discovery document served when there is one.
func (t *Target) paramsFor(objs map[string]*target.Object) (templates.Params, error) {
	doc := objs[t.names.JWKS]
	if doc == nil {
		return templates.Params{}, fmt.Errorf("target %s: no %s: an image always serves the JWKS (fix: write it; to stop serving the set, delete the tag)", t.loc.Raw, t.names.JWKS)
	}
	p := t.params
	p.CacheControl, p.ContentType = doc.CacheControl, doc.ContentType
	p.Discovery = objs[t.names.Discovery] != nil
	return p, nil
}

// base resolves the base image for the target's platform.
func (t *Target) base(ctx context.Context) (v1.Image, v1.Hash, error) {
	img, err := remote.Image(t.loc.Base, t.opts(ctx)...)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("target %s: reading the base image %s%s: %w", t.loc.Raw, t.loc.Base, registryHint(err, t.loc.Base), err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("target %s: reading the base image %s%s: %w", t.loc.Raw, t.loc.Base, registryHint(err, t.loc.Base), err)
	}
	return img, d, nil
}

// build is the image of objs on base, planned against the image parent (see files).
func (t *Target) build(base v1.Image, objs map[string]*target.Object, parent string) (v1.Image, error) {
	files, labels, err := t.files(objs, parent)
	if err != nil {
		return nil, err
	}
	img, err := BuildImage(ImageOptions{Base: base, BaseName: t.loc.Base.Name(), Files: files, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.loc.Raw, err)
	}
	return img, nil
}

// files is the build context of objs and the labels of its image: Dockerfile and nginx.conf
// rendered for the JWKS's headers, the objects at their names, .gz copies of the JWKS (the
// Gzip object when given) and of the discovery document, and the state object, which the
// layer holds but nginx does not serve; the labels name parent, the image the tag named when
// the write was planned, unless it is "" (a first publication). Headers an image cannot store (a discovery document
// with another Cache-Control than the JWKS, say) are refused, so what Write stores is what
// Read gives back.
func (t *Target) files(objs map[string]*target.Object, parent string) ([]File, map[string]string, error) {
	p, err := t.paramsFor(objs)
	if err != nil {
		return nil, nil, err
	}
	conf, err := templates.Render(p)
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: object %s: %w", t.loc.Raw, t.names.JWKS, err)
	}
	doc := objs[t.names.JWKS]
	for _, n := range t.names.All() {
		o := objs[n]
		if o == nil {
			continue
		}
		cc, ct, ce := t.served(n, doc.CacheControl, doc.ContentType)
		if o.CacheControl != cc || o.ContentType != ct || o.ContentEncoding != ce {
			return nil, nil, fmt.Errorf("target %s: object %s has Cache-Control %q, Content-Type %q, Content-Encoding %q; the image serves it with %q, %q, %q, derived from the JWKS's headers (fix: give it those headers)", t.loc.Raw, n, o.CacheControl, o.ContentType, o.ContentEncoding, cc, ct, ce)
		}
	}
	files := []File{
		newFile(templates.Dockerfile, conf[templates.Dockerfile]),
		newFile(templates.NginxConf, conf[templates.NginxConf]),
		newFile(t.names.JWKS, doc.Body),
	}
	if gz := objs[t.names.Gzip]; gz != nil {
		if err := sameGzip(gz.Body, doc.Body); err != nil {
			return nil, nil, fmt.Errorf("target %s: object %s is not the gzip of %s (%v): nginx would serve another document to clients that accept gzip (fix: write the JWKS's own .gz)", t.loc.Raw, t.names.Gzip, t.names.JWKS, err)
		}
		files = append(files, newFile(t.names.Gzip, gz.Body))
	}
	if disc := objs[t.names.Discovery]; disc != nil {
		files = append(files, newFile(t.names.Discovery, disc.Body), newFile(t.names.Discovery+target.GzipSuffix, templates.Gzip(disc.Body)))
	}
	if st := objs[t.names.State]; st != nil {
		files = append(files, newFile(t.names.State, st.Body))
	}
	labels := map[string]string{
		LabelSet:          t.set,
		LabelJWKSSHA256:   doc.SHA256(),
		LabelCacheControl: doc.CacheControl,
		LabelContentType:  doc.ContentType,
	}
	if parent != "" {
		labels[LabelParent] = parent
	}
	return files, labels, nil
}

// sameGzip checks that gz decompresses to body.
func sameGzip(gz, body []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	got, err := io.ReadAll(io.LimitReader(zr, target.MaxObjectSize+1))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, body) {
		return errors.New("it decompresses to other bytes")
	}
	return nil
}

// Write builds the image of base's objects with objs applied (written, or removed where
// Delete is set), labelled with base.Revision as its parent, and pushes it: blobs first, then,
// if the tag still names base.Revision, the manifest to the tag, then reads the tag back, and
// after the settle window follows the tag's parents back to this image. A nil base is the
// absent tag. When the tag moved, nothing is pushed to it and the error wraps
// target.ErrConflict; so it does when the tag names another image right after the push, or
// when after the settle window it names an image not built on this one (a publisher raced
// between the check and the push: see the package doc). Objects equal to a live image that is
// not outdated push nothing. Names and headers are checked before anything is pushed.
func (t *Target) Write(ctx context.Context, base *target.Snapshot, objs []target.Object) error {
	rev := ""
	objects := map[string]*target.Object{}
	if base != nil {
		rev = base.Revision
		for n, o := range base.Objects {
			objects[n] = o
		}
	}
	unchanged := rev != "" && base.Outdated == ""
	known := t.names.All()
	for i := range objs {
		o := &objs[i]
		if !slices.Contains(known, o.Name) {
			return fmt.Errorf("target %s: object %q: an image holds only %s (fix: name the objects with the target's Names)", t.loc.Raw, o.Name, strings.Join(known, ", "))
		}
		if o.Delete {
			unchanged = unchanged && objects[o.Name] == nil
			delete(objects, o.Name)
			continue
		}
		unchanged = unchanged && o.Same(objects[o.Name], true)
		objects[o.Name] = o
	}
	if _, err := t.paramsFor(objects); err != nil {
		return err
	}
	if unchanged {
		// Read rebuilt the live image from these very objects and found it equal (not
		// Outdated); building it again with rev as the parent would give another digest for
		// the same image, so there is nothing to push, if the tag still names it.
		return t.checkTag(ctx, rev)
	}
	baseImg, _, err := t.base(ctx)
	if err != nil {
		return err
	}
	img, err := t.build(baseImg, objects, rev)
	if err != nil {
		return err
	}
	want, err := img.Digest()
	if err != nil {
		return fmt.Errorf("target %s: %w", t.loc.Raw, err)
	}
	if err := t.push(ctx, rev, img); err != nil {
		return err
	}
	return t.settled(ctx, rev, want.String())
}

// isNotFound reports whether a registry answered that the tag or repository does not exist.
func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// registryHint says what a registry's refusal means and how to fix it, for the status codes
// people meet: no or wrong credentials, no permission, a registry failing.
func registryHint(err error, ref name.Reference) string {
	var te *transport.Error
	if !errors.As(err, &te) {
		return ""
	}
	switch code := te.StatusCode; {
	case code == http.StatusUnauthorized:
		return fmt.Sprintf(": HTTP 401, not authenticated (fix: docker login %s, or configure a credential helper; jwkspub reads the Docker config and the standard keychains)", ref.Context().RegistryStr())
	case code == http.StatusForbidden:
		return fmt.Sprintf(": HTTP 403, these credentials may not use %s (fix: grant pull and push access to the repository)", ref.Context().RepositoryStr())
	case code >= 500:
		return fmt.Sprintf(": HTTP %d, the registry failed (retried; fix: try again later)", code)
	default:
		return fmt.Sprintf(": HTTP %d", code)
	}
}
