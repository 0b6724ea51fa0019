package main

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/target"
	"github.com/jwkspub/jwkspub/publish/target/oci"
)

// checkImageURL parses an oci:// URL: one tag is one target, whatever base or platform each
// URL names.
func checkImageURL(raw string) (string, error) {
	loc, err := oci.ParseURL(raw)
	if err != nil {
		return "", err
	}
	return "oci://" + loc.Tag.Name(), nil
}

// openImage is the one place registry access is configured: credentials come from the
// Docker config ($DOCKER_CONFIG or ~/.docker/config.json, as `docker login` writes it) and the
// credential helpers it names, through go-containerregistry's default keychain; nothing is read
// from the target URL, and no credential is logged.
func openImage(_ context.Context, o openOptions, tc config.TargetConfig, set *config.SetConfig) (target.Target, error) {
	loc, err := oci.ParseURL(tc.URL)
	if err != nil {
		return nil, err
	}
	return oci.New(loc, oci.Options{
		SetName: set.Name,
		Remote: []remote.Option{
			remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithUserAgent("jwkspub/" + version),
		},
		Locks:   o.locks,
		Logger:  o.logger,
		OnWrite: o.onWrite,
	})
}
