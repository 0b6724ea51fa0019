package oci

import (
	"fmt"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
	"github.com/jwkspub/jwkspub/templates"
)

// Location is an oci:// target URL, oci://REGISTRY/REPO:TAG?base=IMAGE&platform=OS/ARCH.
type Location struct {
	// Raw is the target URL as configured, used in every message about the target.
	Raw string
	// Tag is where the image is pushed and where the live documents are read from.
	Tag name.Tag
	// Base is the image the document layer is appended to (default templates.DefaultBaseImage).
	Base name.Reference
	// Platform picks one image from a multi-platform base (default linux/amd64).
	Platform v1.Platform
}

// ParseURL parses an oci:// target URL. The tag is required: publishing to "latest" by
// accident would hide which set an image serves. Registries on loopback and private addresses
// are spoken to over plain HTTP (go-containerregistry's rule), every other over TLS.
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("target: want oci://REGISTRY/REPO:TAG?base=IMAGE: %w", err)
	}
	if u.Scheme != "oci" || u.Host == "" || u.Path == "" || u.User != nil || u.Fragment != "" {
		// Redacted: credentials belong in the Docker config, never in a URL or a message.
		return Location{}, fmt.Errorf("target %q: want oci://REGISTRY/REPO:TAG?base=IMAGE (credentials come from the Docker config, not the URL)", u.Redacted())
	}
	loc := Location{Raw: raw, Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	if loc.Tag, err = name.NewTag(u.Host+u.Path, name.StrictValidation); err != nil {
		return Location{}, fmt.Errorf("target %q: %w (fix: name the image with a tag, oci://REGISTRY/REPO:TAG)", raw, err)
	}
	q := u.Query()
	for k := range q {
		if k != "base" && k != "platform" {
			return Location{}, fmt.Errorf("target %q: unknown parameter %q%s (known: base, platform)", raw, k, didyoumean.Suffix(k, []string{"base", "platform"}))
		}
	}
	base := q.Get("base")
	if base == "" {
		base = templates.DefaultBaseImage
	}
	if loc.Base, err = name.ParseReference(base); err != nil {
		return Location{}, fmt.Errorf("target %q: base image: %w", raw, err)
	}
	if p := q.Get("platform"); p != "" {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			return Location{}, fmt.Errorf("target %q: platform: %w", raw, err)
		}
		loc.Platform = *pl
	}
	return loc, nil
}
