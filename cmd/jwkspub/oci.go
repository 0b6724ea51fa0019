package main

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/publish"
)

// isImageTarget reports whether a target URL is an image (oci://), which is built and pushed
// whole rather than written object by object.
func isImageTarget(raw string) bool { return strings.HasPrefix(raw, "oci://") }

// imageTarget is the one place registry access is configured: credentials come from the
// Docker config ($DOCKER_CONFIG or ~/.docker/config.json, as `docker login` writes it) and the
// credential helpers it names, through go-containerregistry's default keychain; nothing is read
// from the target URL, and no credential is logged.
func imageTarget(tc publish.TargetConfig) (*publish.ImageTarget, error) {
	loc, err := publish.ParseImageTarget(tc.URL)
	if err != nil {
		return nil, err
	}
	return &publish.ImageTarget{
		ImageLocation: loc,
		PublicURL:     tc.PublicURL,
		Options: []remote.Option{
			remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithUserAgent("jwkspub/" + version),
		},
	}, nil
}
