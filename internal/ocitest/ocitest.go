// Package ocitest makes the small base images the oci:// tests build on: nothing can be pulled
// from outside the test machine, so each test makes its own and pushes it where it needs it.
package ocitest

import (
	"archive/tar"
	"bytes"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BaseConfig is the config of the base image Base makes: an nginx-like image with a user, an
// entrypoint, a command, an environment, a working directory and a label, so tests can check
// which of them the built image keeps and which the Dockerfile replaces.
var BaseConfig = v1.Config{
	User:         "nginx",
	Entrypoint:   []string{"/docker-entrypoint.sh"},
	Cmd:          []string{"nginx", "-g", "daemon off;"},
	Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.28.0"},
	WorkingDir:   "/",
	Labels:       map[string]string{"maintainer": "base image test"},
	ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	StopSignal:   "SIGQUIT",
}

// Base returns a small image with one layer (/etc/base-release holding marker) and
// BaseConfig, as an OCI image or, with docker true, with Docker's media types. Equal arguments
// give equal digests.
func Base(marker string, docker bool) (v1.Image, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mod := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		name string
		data string
	}{{"etc/", ""}, {"etc/base-release", marker + "\n"}} {
		h := &tar.Header{Name: e.name, ModTime: mod, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.data == "" {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := b.Bytes()
	mt, lt := types.OCIManifestSchema1, types.OCILayer
	if docker {
		mt, lt = types.DockerManifestSchema2, types.DockerLayer
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(lt))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, mt)
	img = mutate.ConfigMediaType(img, map[bool]types.MediaType{true: types.DockerConfigJSON, false: types.OCIConfigJSON}[docker])
	if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: lt, History: v1.History{Created: v1.Time{Time: mod}, CreatedBy: "ocitest base"}}); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config = *BaseConfig.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: mod}
	return mutate.ConfigFile(img, cf)
}
