// Package target is the one contract every place a set is published implements: a directory,
// an object store, an image in a registry. A Target reads what is live with a revision, and
// writes every object of a publication only if it is still at that revision.
//
// The contract, which targettest checks for every implementation:
//
//   - Read returns the set's objects that exist (the JWKS, its .gz sibling, the discovery
//     document, the state object), their names at this target, and a revision that changes
//     whenever any of them changes. An absent target (nothing published yet) is an empty
//     Snapshot, not an error; a missing bucket or directory, denied access and wrong
//     credentials are errors.
//   - Write(base, objs) stores objs in the order given, each one whole (a reader sees the old or
//     the new bytes of an object, never a part), and only if the target is still at base's
//     revision; otherwise it writes nothing it has not already written and returns an error
//     wrapping ErrConflict. An object with Delete set is removed. The caller orders objs so
//     that what verifiers need never lags what the state object says (the JWKS first, the
//     state last): a crash between two objects leaves the served document whole, and the next
//     run repairs the rest.
//   - Names are checked before the first write: a name the target cannot store fails Write
//     before anything changed.
package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
)

// Target is one place a set is published.
type Target interface {
	// Read returns what is live. It writes nothing.
	Read(ctx context.Context) (*Snapshot, error)
	// Write stores objs if the target is still at base.Revision, else wraps ErrConflict.
	Write(ctx context.Context, base *Snapshot, objs []Object) error
}

// ErrConflict is wrapped by a Write that lost a race: the target changed after base was read,
// and nothing of the losing publication replaced what the winner wrote.
var ErrConflict = errors.New("the target changed since it was read (another publisher wrote it); nothing was overwritten")

// Snapshot is what a target held when it was read.
type Snapshot struct {
	// Names are the names of the set's objects at this target.
	Names Names
	// Objects holds the objects that exist, by name.
	Objects map[string]*Object
	// Revision identifies what was read; Write compares it under the target's own precondition
	// (a lock, entity tags, the tag's digest). Empty means nothing was there.
	Revision string
	// Attributes is true when the target stores headers and metadata with each object (object
	// stores, images); false for a directory, whose headers are the web server's configuration.
	// Headers are compared only where they are stored.
	Attributes bool
	// Outdated, when not empty, says why the target must be rewritten even though every object
	// is as planned (an image whose base moved); it reads as a reason in plans.
	Outdated string
	// Digest is the content digest of what is live where the target has one (an image's
	// manifest digest), for reports.
	Digest string
}

// Object returns the live object called name, or nil.
func (s *Snapshot) Object(name string) *Object {
	if s == nil || name == "" {
		return nil
	}
	return s.Objects[name]
}

// Names are the names of a set's objects at a target, all derived from the JWKS's name.
type Names struct {
	// JWKS is the document verifiers fetch.
	JWKS string
	// Gzip is its precompressed sibling (nginx's gzip_static), empty where the target serves
	// none.
	Gzip string
	// Discovery is the OpenID discovery document beside the JWKS.
	Discovery string
	// State is the state object.
	State string
	// WellKnown is true when the JWKS sits in a directory named .well-known, where an OIDC
	// issuer's discovery document must be.
	WellKnown bool
}

// Suffixes and names of the objects beside a JWKS.
const (
	StateSuffix   = ".state.json"
	GzipSuffix    = ".gz"
	DiscoveryName = "openid-configuration"
)

// NamesFor derives the names of a set's objects from the JWKS's name (slash-separated):
// "<jwks>.state.json", "<jwks>.gz" when gzip is true, and "openid-configuration" in the
// JWKS's directory, so .well-known/jwks.json has .well-known/openid-configuration beside it.
func NamesFor(jwks string, gzip bool) Names {
	n := Names{JWKS: jwks, State: jwks + StateSuffix, Discovery: DiscoveryName}
	if d := path.Dir(jwks); d != "." {
		n.Discovery = d + "/" + DiscoveryName
	}
	if gzip {
		n.Gzip = jwks + GzipSuffix
	}
	n.WellKnown = path.Base(path.Dir(jwks)) == ".well-known"
	return n
}

// All lists the names in write order: the JWKS, its .gz sibling, the discovery document, the
// state object; empty names left out.
func (n Names) All() []string {
	out := make([]string, 0, 4)
	for _, s := range []string{n.JWKS, n.Gzip, n.Discovery, n.State} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Metadata keys written with every object on targets that keep attributes (lower case: S3
// folds case).
const (
	MetaSHA256  = "sha256"
	MetaVersion = "jwkspub-version"
)

// Object is one stored object.
type Object struct {
	Name string
	Body []byte
	// Delete removes the object instead of writing it.
	Delete          bool
	CacheControl    string
	ContentType     string
	ContentEncoding string
	Metadata        map[string]string
	// Revision is the stored version the object was read at, opaque to all but its target.
	Revision string
}

// SHA256 is the hex SHA-256 of the body.
func (o *Object) SHA256() string {
	s := sha256.Sum256(o.Body)
	return hex.EncodeToString(s[:])
}

// Same reports whether the stored object live already is o: equal bodies and, where the
// target keeps them (attributes), equal headers and body hash. The tool version in the
// metadata is informational and not compared, so upgrading jwkspub rewrites nothing.
func (o *Object) Same(live *Object, attributes bool) bool {
	if o == nil || live == nil {
		return o == nil && live == nil
	}
	if !bytes.Equal(o.Body, live.Body) {
		return false
	}
	if !attributes {
		return true
	}
	return o.CacheControl == live.CacheControl && o.ContentType == live.ContentType &&
		o.ContentEncoding == live.ContentEncoding && live.Metadata[MetaSHA256] == o.SHA256()
}

// MaxObjectSize bounds what is read from a target: a JWKS of max_keys RSA-4096 keys with
// certificate chains is far below it.
const MaxObjectSize = 4 << 20
