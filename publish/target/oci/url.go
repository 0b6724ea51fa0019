package oci

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
	"github.com/jwkspub/jwkspub/templates"
)

// DefaultSettle is how long a push waits after moving the tag before it checks that no
// publisher who planned on the same image overwrote it (see the package doc). The window it
// covers is a rival's check-to-put, milliseconds on a healthy registry; a second leaves room
// for a loaded machine and costs one second per publication.
const DefaultSettle = time.Second

// MaxSettle bounds ?settle=: a longer wait only delays the run, and no value makes a tag safe
// for two publishers at once.
const MaxSettle = time.Minute

// parameters are the query parameters an oci:// URL may have.
var parameters = []string{"base", "platform", "settle"}

// Location is an oci:// target URL,
// oci://REGISTRY/REPO:TAG?base=IMAGE&platform=OS/ARCH&settle=DURATION.
type Location struct {
	// Raw is the target URL as configured, used in every message about the target.
	Raw string
	// Tag is where the image is pushed and where the live documents are read from.
	Tag name.Tag
	// Base is the image the document layer is appended to (default templates.DefaultBaseImage).
	Base name.Reference
	// Platform picks one image from a multi-platform base (default linux/amd64).
	Platform v1.Platform
	// Settle is how long a push waits before reading the tag a last time to find a rival that
	// overwrote it (default DefaultSettle); zero skips that check.
	Settle time.Duration
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
	loc := Location{Raw: raw, Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Settle: DefaultSettle}
	if loc.Tag, err = name.NewTag(u.Host+u.Path, name.StrictValidation); err != nil {
		return Location{}, fmt.Errorf("target %q: %w (fix: name the image with a tag, oci://REGISTRY/REPO:TAG)", raw, err)
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(parameters, k) {
			return Location{}, fmt.Errorf("target %q: unknown parameter %q%s (known: %s)", raw, k, didyoumean.Suffix(k, parameters), strings.Join(parameters, ", "))
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
	if v := q.Get("settle"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxSettle {
			return Location{}, fmt.Errorf("target %q: settle=%s is not a duration from 0s to %v (fix: settle=%v, the default, or settle=0 to skip the check for a rival's overwrite)", raw, v, MaxSettle, DefaultSettle)
		}
		loc.Settle = d
	}
	return loc, nil
}
