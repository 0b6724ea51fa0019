package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/templates"
)

// File is one file of the image's build context: what `jwkspub render` writes.
type File struct {
	// Path is slash-separated and relative to the context directory.
	Path string
	Data []byte
	// ModTime is derived from Data (see ContentModTime), so the ETag nginx computes from it
	// changes whenever the content does.
	ModTime time.Time
}

// newFile is a context file with its content-derived time.
func newFile(p string, data []byte) File {
	return File{Path: p, Data: data, ModTime: templates.ContentModTime(data)}
}

// ImageOptions configure BuildImage.
type ImageOptions struct {
	// Base is the image the document layer is appended to.
	Base v1.Image
	// BaseName names Base in the org.opencontainers.image.base.name label.
	BaseName string
	// Files are the build context (Target.Write makes it; `jwkspub render` writes the same).
	// Its Dockerfile says where each file goes and how the image runs; the Dockerfile itself is
	// not copied into the image.
	Files []File
	// Labels are added to the image config, over the base's.
	Labels map[string]string
}

// dirModTime is the time of the directories in the document layer: fixed, like every other
// field of the layer, so equal files give an equal layer digest.
var dirModTime = templates.ModTimeEpoch

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
	created := templates.ModTimeEpoch
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
func layerEntries(copies []imageCopy, files []File) ([]layerEntry, error) {
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

// maxLayerFile bounds each file read back from a live image's document layer.
const maxLayerFile = target.MaxObjectSize

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
