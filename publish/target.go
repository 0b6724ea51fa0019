package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Object names beside the JWKS, derived from its key.
const (
	// StateSuffix is appended to the JWKS key to name the state object.
	StateSuffix = ".state.json"
	// GzipSuffix is appended to the JWKS key to name the precompressed sibling that nginx's
	// gzip_static serves.
	GzipSuffix = ".gz"
	// discoveryName is the discovery document's base name; it sits in the JWKS's directory,
	// which for an OIDC issuer is .well-known.
	discoveryName = "openid-configuration"
	// maxObjectSize bounds what is read from a target: a JWKS of max_keys RSA-4096 keys with
	// certificate chains is far below it.
	maxObjectSize = 4 << 20
)

// Metadata keys written with every object (lower case: S3 and fileblob fold case).
const (
	MetaSHA256  = "sha256"
	MetaVersion = "jwkspub-version"
)

// Location is a target URL split into the bucket URL a gocloud.dev URL opener takes and the
// object key of the JWKS inside it.
type Location struct {
	// Raw is the target URL as configured, used in every message about the target.
	Raw string
	// Scheme is the URL scheme: file, s3, gs or azblob.
	Scheme string
	// BucketURL opens the bucket: scheme, bucket (or directory) and the query string, whose
	// parameter names are gocloud.dev's (region, endpoint, use_path_style, ...).
	BucketURL string
	// Key is the JWKS object key inside the bucket.
	Key string
}

// ErrNotBlobTarget is returned by SplitTarget for a URL that is not an object store or
// directory (an oci:// image is rendered, not written object by object).
var ErrNotBlobTarget = errors.New("not a file or object-store target")

// SplitTarget is the one place a target URL is split into bucket URL and key, per the
// contract: for s3://BUCKET/KEY, gs://BUCKET/KEY and azblob://CONTAINER/KEY the host is the
// bucket and the path the key; for file:///abs/dir/jwks.json the directory is the bucket and
// the base name the key. The query string stays with the bucket URL unchanged.
func SplitTarget(raw string) (Location, error) {
	if err := ValidateTarget(raw); err != nil {
		return Location{}, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Location{}, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	loc := Location{Raw: raw, Scheme: u.Scheme}
	b := url.URL{Scheme: u.Scheme, RawQuery: u.RawQuery}
	switch u.Scheme {
	case "file":
		if u.Query().Get("metadata") == "skip" {
			return Location{}, fmt.Errorf("%q: metadata=skip is not supported: file targets keep Cache-Control, Content-Type and the body hash in .attrs sidecar files, which jwkspub reads back after each write and compares to stay idempotent", raw)
		}
		b.Path = path.Dir(u.Path)
		loc.Key = path.Base(u.Path)
		loc.BucketURL = b.String() // url.URL writes "file:///dir" for the file scheme
	case "s3", "gs", "azblob":
		b.Host = u.Host
		loc.Key = strings.TrimPrefix(u.Path, "/")
		loc.BucketURL = b.String()
	default:
		return Location{}, fmt.Errorf("%q: %w", raw, ErrNotBlobTarget)
	}
	if loc.Key == "" || strings.HasSuffix(loc.Key, "/") {
		return Location{}, fmt.Errorf("%q: the path must name the document, e.g. .well-known/jwks.json", raw)
	}
	return loc, nil
}

// StateKey is the key of the state object: "<key>.state.json".
func (l Location) StateKey() string { return l.Key + StateSuffix }

// GzipKey is the key of the precompressed sibling: "<key>.gz".
func (l Location) GzipKey() string { return l.Key + GzipSuffix }

// DiscoveryKey is the key of the discovery document: "openid-configuration" in the JWKS's
// directory, so .well-known/jwks.json has .well-known/openid-configuration beside it.
func (l Location) DiscoveryKey() string {
	if d := path.Dir(l.Key); d != "." {
		return d + "/" + discoveryName
	}
	return discoveryName
}

// inWellKnown reports whether the JWKS sits in a directory named .well-known, where an OIDC
// issuer's discovery document must be. For file targets that directory is the bucket's.
func (l Location) inWellKnown() bool {
	dir := path.Dir(l.Key)
	if dir == "." && l.Scheme == "file" {
		if u, err := url.Parse(l.BucketURL); err == nil {
			dir = u.Path
		}
	}
	return path.Base(dir) == ".well-known"
}

// Target is one place a set is published: an open bucket and where in it the JWKS goes.
// The caller opens the bucket (cmd/jwkspub holds the URL openers, so cloud drivers are linked
// only into the binary) and closes it.
type Target struct {
	Location
	// Bucket holds the JWKS, its discovery document, state object and .gz sibling. Nil means
	// the bucket does not exist yet (a directory not yet made): nothing is live, and nothing
	// can be written.
	Bucket *blob.Bucket
	// PublicURL is where verifiers fetch the JWKS; it becomes the discovery document's
	// jwks_uri. Empty means the issuer's /.well-known/jwks.json.
	PublicURL string
	// PublicRead grants anonymous read on each object written (S3 canned ACL public-read, GCS
	// predefined ACL publicRead). Off by default: the safe pattern is a private bucket behind a
	// CDN. Azure has no per-blob ACL (public access is the container's setting).
	PublicRead bool

	// afterTempWrite, when set (tests only), runs after an object's bytes are written and
	// synced to the temporary file and before it is renamed into place.
	afterTempWrite func(key string)
}

// Object is one stored object: its bytes and the headers and metadata it is served with.
type Object struct {
	Body         []byte
	CacheControl string
	ContentType  string
	// ContentEncoding is "gzip" for the .gz sibling.
	ContentEncoding string
	Metadata        map[string]string

	// rev is the stored revision the object was read at; writes are conditional on it.
	rev revision
}

// SHA256 is the hex SHA-256 of the body, as stored in the metadata.
func (o *Object) SHA256() string {
	s := sha256.Sum256(o.Body)
	return hex.EncodeToString(s[:])
}

// sameStored reports whether a stored object already is o: equal body and equal headers. The
// tool version in the metadata is informational and deliberately not compared, so upgrading
// jwkspub does not rewrite every target.
func (o *Object) sameStored(live *Object) bool {
	if o == nil || live == nil {
		return o == nil && live == nil
	}
	return bytes.Equal(o.Body, live.Body) && o.CacheControl == live.CacheControl &&
		o.ContentType == live.ContentType && o.ContentEncoding == live.ContentEncoding &&
		live.Metadata[MetaSHA256] == o.SHA256()
}

// read returns the object at key, or nil when there is none. Other errors name the target.
func (t *Target) read(ctx context.Context, key string) (*Object, error) {
	if t.Bucket == nil {
		return nil, nil
	}
	if t.store() != "" {
		return t.readNative(ctx, key)
	}
	if err := t.checkFileKey(key); err != nil {
		return nil, err
	}
	attrs, err := t.Bucket.Attributes(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.Raw, key, err)
	}
	if attrs.Size > maxObjectSize {
		return nil, fmt.Errorf("target %s: %s is %d bytes, more than a JWKS can be (%d)", t.Raw, key, attrs.Size, maxObjectSize)
	}
	r, err := t.Bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil // deleted between the two calls
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.Raw, key, err)
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.Raw, key, err)
	}
	if len(body) > maxObjectSize {
		return nil, fmt.Errorf("target %s: %s is more than %d bytes", t.Raw, key, maxObjectSize)
	}
	return &Object{
		Body:            body,
		CacheControl:    attrs.CacheControl,
		ContentType:     attrs.ContentType,
		ContentEncoding: attrs.ContentEncoding,
		Metadata:        attrs.Metadata,
		rev:             revision{exists: true},
	}, nil
}

// write stores o at key so that readers see the old or the new object, never a part: the
// drivers upload whole objects, and fileblob writes a temporary file that is synced here
// before it is renamed into place. The write is conditional on prev, the revision the plan
// was made from: losing a race wraps ErrConflict.
func (t *Target) write(ctx context.Context, key string, o *Object, prev revision) error {
	if t.Bucket == nil {
		return fmt.Errorf("target %s: not opened for writing", t.Raw)
	}
	var f *os.File
	opts := &blob.WriterOptions{
		CacheControl:    o.CacheControl,
		ContentType:     o.ContentType,
		ContentEncoding: o.ContentEncoding,
		Metadata:        maps.Clone(o.Metadata),
		BeforeWrite: func(as func(any) bool) error {
			as(&f) // only fileblob exposes its temporary *os.File
			return nil
		},
	}
	if opts.Metadata == nil {
		opts.Metadata = map[string]string{}
	}
	opts.Metadata[MetaSHA256] = o.SHA256()
	if t.store() != "" {
		return t.writeNative(ctx, key, o, opts, prev)
	}
	if err := t.checkFileKey(key); err != nil {
		return err
	}
	// A directory has no entity tags; it can at least refuse to replace a document that
	// appeared after it was read as absent.
	opts.IfNotExist = !prev.exists
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := t.Bucket.NewWriter(wctx, key, opts)
	if err != nil {
		return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, err)
	}
	if _, err := w.Write(o.Body); err != nil {
		cancel() // abandons the upload: nothing replaces the live object
		_ = w.Close()
		return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, err)
	}
	if f != nil {
		if err := f.Sync(); err != nil {
			cancel()
			_ = w.Close()
			return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, err)
		}
	}
	if t.afterTempWrite != nil {
		t.afterTempWrite(key)
	}
	if err := w.Close(); err != nil {
		if isConflict(err) {
			// A document that appeared since the read is a lost race; anything else in the
			// way (a directory at the document's path) is not, and re-planning cannot help.
			if cur, rerr := t.read(ctx, key); rerr == nil && cur != nil {
				return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, ErrConflict)
			}
			return fmt.Errorf("target %s: writing %s: something that is not a document is in the way: %w", t.Raw, key, err)
		}
		return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, err)
	}
	return nil
}

// delete removes key; an absent object is not an error. On an object store the delete is
// conditional on prev, the revision the plan was made from.
func (t *Target) delete(ctx context.Context, key string, prev revision) error {
	if t.Bucket == nil {
		return fmt.Errorf("target %s: not opened for writing", t.Raw)
	}
	if t.store() != "" {
		return t.deleteNative(ctx, key, prev)
	}
	err := t.Bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("target %s: deleting %s: %w", t.Raw, key, err)
	}
	return nil
}

// verify reads key back and checks that the stored body and headers are o's.
func (t *Target) verify(ctx context.Context, key string, o *Object) error {
	got, err := t.read(ctx, key)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	if got == nil {
		return fmt.Errorf("target %s: read back %s: it is missing after the write", t.Raw, key)
	}
	if !bytes.Equal(got.Body, o.Body) {
		return fmt.Errorf("target %s: read back %s: body sha256 %s, wrote %s", t.Raw, key, got.SHA256(), o.SHA256())
	}
	if !o.sameStored(got) {
		return fmt.Errorf("target %s: read back %s: headers are Cache-Control %q, Content-Type %q, sha256 metadata %q; wrote %q, %q, %q",
			t.Raw, key, got.CacheControl, got.ContentType, got.Metadata[MetaSHA256], o.CacheControl, o.ContentType, o.SHA256())
	}
	return nil
}

// checkFileKey refuses an object of a file target that is not a regular file, before fileblob
// touches it: it would open a FIFO (or its .attrs sidecar) for reading and block until some
// process wrote to it, deaf to the context, and its write would rename a file over a device or
// socket. A path that cannot be examined is left to fileblob, which reports it.
func (t *Target) checkFileKey(key string) error {
	if t.Scheme != "file" {
		return nil
	}
	u, err := url.Parse(t.BucketURL)
	if err != nil {
		return nil
	}
	p := filepath.Join(filepath.FromSlash(u.Path), filepath.FromSlash(key))
	for _, name := range []string{p, p + ".attrs"} {
		st, err := os.Stat(name)
		if err != nil || st.Mode().IsRegular() || st.IsDir() {
			continue // a directory in the way is reported by the write itself
		}
		return fmt.Errorf("target %s: %s is %s, not a regular file (fix: remove it; a file target holds only the regular files jwkspub writes)", t.Raw, name, fileKind(st.Mode()))
	}
	return nil
}

// fileKind names what a non-regular file is, for messages.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a " + m.Type().String() + " file"
}
