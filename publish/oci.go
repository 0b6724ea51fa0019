package publish

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/jwkspub/jwkspub/templates"
)

// Labels jwkspub adds to the image config.
const (
	LabelSet        = "org.jwkspub.set"
	LabelJWKSSHA256 = "org.jwkspub.jwks.sha256"
	// The OCI annotations for the base, so scanners and `crane rebase` know what lies below.
	LabelBaseName   = "org.opencontainers.image.base.name"
	LabelBaseDigest = "org.opencontainers.image.base.digest"
)

// ImageLocation is an oci:// target URL, oci://REGISTRY/REPO:TAG?base=IMAGE&platform=OS/ARCH.
type ImageLocation struct {
	// Raw is the target URL as configured, used in every message about the target.
	Raw string
	// Tag is where the image is pushed and where the live documents are read from.
	Tag name.Tag
	// Base is the image the document layer is appended to (default templates.DefaultBaseImage).
	Base name.Reference
	// Platform picks one image from a multi-platform base (default linux/amd64).
	Platform v1.Platform
}

// ParseImageTarget parses an oci:// target URL. The tag is required: publishing to "latest"
// by accident would hide which set an image serves. Registries on loopback and private
// addresses are spoken to over plain HTTP (go-containerregistry's rule), every other over TLS.
func ParseImageTarget(raw string) (ImageLocation, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return ImageLocation{}, fmt.Errorf("target: want oci://REGISTRY/REPO:TAG?base=IMAGE: %w", err)
	}
	if u.Scheme != "oci" || u.Host == "" || u.Path == "" || u.User != nil || u.Fragment != "" {
		// Redacted: credentials belong in the Docker config, never in a URL or a message.
		return ImageLocation{}, fmt.Errorf("target %q: want oci://REGISTRY/REPO:TAG?base=IMAGE (credentials come from the Docker config, not the URL)", u.Redacted())
	}
	loc := ImageLocation{Raw: raw, Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	if loc.Tag, err = name.NewTag(u.Host+u.Path, name.StrictValidation); err != nil {
		return ImageLocation{}, fmt.Errorf("target %q: %w (fix: name the image with a tag, oci://REGISTRY/REPO:TAG)", raw, err)
	}
	q := u.Query()
	for k := range q {
		if k != "base" && k != "platform" {
			return ImageLocation{}, fmt.Errorf("target %q: unknown parameter %q (known: base, platform)", raw, k)
		}
	}
	base := q.Get("base")
	if base == "" {
		base = templates.DefaultBaseImage
	}
	if loc.Base, err = name.ParseReference(base); err != nil {
		return ImageLocation{}, fmt.Errorf("target %q: base image: %w", raw, err)
	}
	if p := q.Get("platform"); p != "" {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			return ImageLocation{}, fmt.Errorf("target %q: platform: %w", raw, err)
		}
		loc.Platform = *pl
	}
	return loc, nil
}

// ImageOptions configure BuildImage.
type ImageOptions struct {
	// Base is the image the document layer is appended to.
	Base v1.Image
	// BaseName names Base in the org.opencontainers.image.base.name label.
	BaseName string
	// Files are RenderContext's output. Its Dockerfile says where each file goes and how the
	// image runs; the Dockerfile itself is not copied into the image.
	Files []ContextFile
	// Labels are added to the image config, over the base's.
	Labels map[string]string
}

// dirModTime is the time of the directories in the document layer: fixed, like every other
// field of the layer, so equal files give an equal layer digest.
var dirModTime = modTimeEpoch

// BuildImage appends one layer to o.Base holding the files the rendered Dockerfile COPYs, owned
// by root (uid and gid 0, no names) with mode 0644 in 0755 directories and each file's
// content-derived modification time, in sorted order; and applies the Dockerfile's USER,
// EXPOSE, STOPSIGNAL, HEALTHCHECK, ENTRYPOINT and CMD to the base's config, keeping the rest of
// it (environment, working directory, volumes, the base's labels). It is reproducible: the
// config's and the history's creation time is the newest file's modification time, never the
// clock, so the same base and files always give the same digest.
func BuildImage(o ImageOptions) (v1.Image, error) {
	if o.Base == nil {
		return nil, errors.New("image: no base image")
	}
	var dockerfile []byte
	for _, f := range o.Files {
		if f.Path == templates.Dockerfile {
			dockerfile = f.Data
		}
	}
	if dockerfile == nil {
		return nil, errors.New("image: the rendered files have no Dockerfile")
	}
	spec, err := parseDockerfile(dockerfile)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	entries, err := layerEntries(spec.Copies, o.Files)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	created := modTimeEpoch
	for _, e := range entries {
		if e.ModTime.After(created) {
			created = e.ModTime
		}
	}
	tarBytes, err := writeTar(entries)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	mt, err := o.Base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("image: base media type: %w", err)
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(layerType), tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	srcs := make([]string, len(spec.Copies))
	for i, c := range spec.Copies {
		srcs[i] = c.Src
	}
	img, err := mutate.Append(o.Base, mutate.Addendum{
		Layer:     layer,
		MediaType: layerType,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "jwkspub: COPY " + strings.Join(srcs, " ") + " (documents and nginx configuration)",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image: appending the layer: %w", err)
	}
	baseCfg, err := o.Base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: base config: %w", err)
	}
	cfg := *baseCfg.Config.DeepCopy()
	applySpec(&cfg, spec)
	if len(o.Labels) > 0 {
		cfg.Labels = maps.Clone(cfg.Labels)
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		maps.Copy(cfg.Labels, o.Labels)
	}
	if o.BaseName != "" {
		d, err := o.Base.Digest()
		if err != nil {
			return nil, fmt.Errorf("image: base digest: %w", err)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[LabelBaseName] = o.BaseName
		cfg.Labels[LabelBaseDigest] = d.String()
	}
	if img, err = mutate.Config(img, cfg); err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	return img, nil
}

// applySpec sets what the Dockerfile sets, as `docker build` would.
func applySpec(cfg *v1.Config, s *imageSpec) {
	if s.User != "" {
		cfg.User = s.User
	}
	if s.StopSignal != "" {
		cfg.StopSignal = s.StopSignal
	}
	if s.setEntry {
		cfg.Entrypoint = s.Entrypoint
	}
	if s.setCmd {
		cfg.Cmd = s.Cmd
	}
	if len(s.Exposed) > 0 {
		ports := map[string]struct{}{}
		maps.Copy(ports, cfg.ExposedPorts)
		for _, p := range s.Exposed {
			ports[p] = struct{}{}
		}
		cfg.ExposedPorts = ports
	}
	if s.Healthcheck != nil {
		hc := *s.Healthcheck
		cfg.Healthcheck = &hc
	}
}

// layerEntry is one file or directory of the document layer.
type layerEntry struct {
	Name    string // slash-separated, relative to /, directories ending in "/"
	Data    []byte
	ModTime time.Time
}

// layerEntries maps the rendered files through the Dockerfile's COPY instructions, with every
// parent directory, sorted by name. A file no COPY names (the Dockerfile) is left out; a COPY
// that matches nothing is an error, since the image would silently lack what nginx serves.
func layerEntries(copies []imageCopy, files []ContextFile) ([]layerEntry, error) {
	byName := map[string]layerEntry{}
	for _, c := range copies {
		matched := false
		for _, f := range files {
			dst, ok := imagePath([]imageCopy{c}, f.Path)
			if !ok {
				continue
			}
			matched = true
			if _, dup := byName[dst]; dup {
				return nil, fmt.Errorf("two files copied to /%s", dst)
			}
			byName[dst] = layerEntry{Name: dst, Data: f.Data, ModTime: f.ModTime}
			for d := path.Dir(dst); d != "." && d != "/"; d = path.Dir(d) {
				byName[d+"/"] = layerEntry{Name: d + "/", ModTime: dirModTime}
			}
		}
		if !matched {
			return nil, fmt.Errorf("COPY %s: no rendered file matches", c.Src)
		}
	}
	out := slices.Collect(maps.Values(byName))
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// writeTar writes entries as a USTAR archive with fixed ownership and modes and no user or
// group names, so the bytes depend on the entries only.
func writeTar(entries []layerEntry) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, ModTime: e.ModTime.UTC(), Format: tar.FormatUSTAR}
		if strings.HasSuffix(e.Name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.Name, err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return b.Bytes(), nil
}

// maxLayerFile bounds each file read back from a live image's document layer: a JWKS of
// max_keys RSA-4096 keys with certificate chains is far below it.
const maxLayerFile = 4 << 20

// LayerFiles reads the regular files of a layer (the document layer of an image jwkspub
// built) that keep accepts (nil keeps all), keyed by their path without the leading slash.
// Other entries are skipped unread, so a large layer costs its download, not memory. A kept
// file above 4 MiB is an error: no document jwkspub writes is that large.
func LayerFiles(l v1.Layer, keep func(name string) bool) (map[string][]byte, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the layer: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag != tar.TypeReg || (keep != nil && !keep(name)) {
			continue
		}
		if h.Size > maxLayerFile {
			return nil, fmt.Errorf("layer file %s is %d bytes, more than a document can be", h.Name, h.Size)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the layer: %w", h.Name, err)
		}
		out[name] = data
	}
}

// LiveImage is what an oci:// tag holds now.
type LiveImage struct {
	// Digest is the manifest digest at the tag.
	Digest v1.Hash
	// Files are the files of its top layer, keyed by path without the leading slash.
	Files map[string][]byte
	// Labels are the image config's labels.
	Labels map[string]string
}

// ReadLiveImage reads the image at loc.Tag and the files of its top layer named in paths
// (without the leading slash; nil reads all), where jwkspub (and `docker build` of a rendered
// context, whose last COPY is html/) puts the documents. An absent tag or repository gives nil
// and no error: the first publication.
func ReadLiveImage(ctx context.Context, loc ImageLocation, paths []string, opts ...remote.Option) (*LiveImage, error) {
	opts = append(slices.Clip(opts), remote.WithContext(ctx), remote.WithPlatform(loc.Platform))
	img, err := remote.Image(loc.Tag, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading the image at %s%s: %w", loc.Raw, loc.Tag, registryHint(err, loc), err)
	}
	live := &LiveImage{}
	if live.Digest, err = img.Digest(); err != nil {
		return nil, fmt.Errorf("target %s: %w", loc.Raw, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("target %s: reading the image config: %w", loc.Raw, err)
	}
	live.Labels = cf.Config.Labels
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		return nil, fmt.Errorf("target %s: the image at %s has no layers (%v)", loc.Raw, loc.Tag, err)
	}
	var keep func(string) bool
	if paths != nil {
		keep = func(name string) bool { return slices.Contains(paths, name) }
	}
	if live.Files, err = LayerFiles(layers[len(layers)-1], keep); err != nil {
		return nil, fmt.Errorf("target %s: %w", loc.Raw, err)
	}
	return live, nil
}

// setLabel is the set the live image serves, by its label; "" when absent.
func (l *LiveImage) setLabel() string {
	if l == nil {
		return ""
	}
	return l.Labels[LabelSet]
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
func registryHint(err error, loc ImageLocation) string {
	var te *transport.Error
	if !errors.As(err, &te) {
		return ""
	}
	switch code := te.StatusCode; {
	case code == http.StatusUnauthorized:
		return fmt.Sprintf(": HTTP 401, not authenticated (fix: docker login %s, or configure a credential helper; jwkspub reads the Docker config and the standard keychains)", loc.Tag.RegistryStr())
	case code == http.StatusForbidden:
		return fmt.Sprintf(": HTTP 403, these credentials may not use %s (fix: grant pull and push access to the repository)", loc.Tag.RepositoryStr())
	case code >= 500:
		return fmt.Sprintf(": HTTP %d, the registry failed (retried; fix: try again later)", code)
	default:
		return fmt.Sprintf(": HTTP %d", code)
	}
}

// PushImage pushes img to loc.Tag and reads the tag back: it must name img's digest. Blobs go
// first and the manifest last, so a push that fails anywhere leaves the tag on the image it
// held before.
func PushImage(ctx context.Context, loc ImageLocation, img v1.Image, opts ...remote.Option) (v1.Hash, error) {
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("target %s: %w", loc.Raw, err)
	}
	opts = append(slices.Clip(opts), remote.WithContext(ctx))
	if err := remote.Write(loc.Tag, img, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("target %s: pushing %s%s; the tag was left as it was: %w", loc.Raw, loc.Tag, registryHint(err, loc), err)
	}
	desc, err := remote.Head(loc.Tag, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("target %s: reading back %s: %w", loc.Raw, loc.Tag, err)
	}
	if desc.Digest != want {
		return v1.Hash{}, fmt.Errorf("target %s: read back %s: the tag names %s, pushed %s", loc.Raw, loc.Tag, desc.Digest, want)
	}
	return want, nil
}

// imagePath is where COPY puts a context file in the image, without the leading slash.
func imagePath(copies []imageCopy, ctxPath string) (string, bool) {
	for _, c := range copies {
		switch {
		case strings.HasSuffix(c.Src, "/") && strings.HasPrefix(ctxPath, c.Src):
			return c.Dst + strings.TrimPrefix(ctxPath, c.Src), true
		case ctxPath == c.Src:
			return c.Dst, true
		}
	}
	return "", false
}
