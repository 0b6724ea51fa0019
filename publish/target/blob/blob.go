// Package blob is the object-store target: S3, Google Cloud Storage and Azure Blob Storage
// through gocloud.dev/blob, with each store's native conditional requests. It is the only
// package of jwkspub's library that imports a cloud SDK.
//
// gocloud.dev has no portable form for what the target contract needs: reading an object's
// body, headers and revision in one request, and writing or deleting only if the object is
// still the revision that was read. Each store gets its native form through As: If-Match and
// If-None-Match on the entity tag (S3, Azure), ifGenerationMatch (GCS). Every object of a
// publication is conditional on the revision it was read at, so a publisher that lost a race
// gets ErrConflict at its first write and overwrites nothing; objects are written in the
// order given (the JWKS first, the state last), each in one request, so a crash between two
// leaves whole objects and the next run repairs the rest.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	s3types "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
	"github.com/jwkspub/jwkspub/publish/target"
)

// Options configure a Target.
type Options struct {
	// PublicRead grants anonymous read on each object written (S3 canned ACL public-read, GCS
	// predefined ACL publicRead). Off by default: the safe pattern is a private bucket behind a
	// CDN. Azure has no per-blob ACL (public access is the container's setting).
	PublicRead bool
	// OnWrite, when set (tests, the crash harness), is called after each object is written or
	// deleted, with "write NAME" or "delete NAME".
	OnWrite func(point string)
	// Logger receives nothing today; kept for symmetry with the other targets.
	Logger *slog.Logger
}

// Target is a JWKS and the objects beside it in one bucket.
type Target struct {
	raw    string
	bucket *blob.Bucket
	names  target.Names
	store  string
	opts   Options
}

// Object stores whose native requests this package knows.
const (
	storeS3    = "s3"
	storeGCS   = "gs"
	storeAzure = "azblob"
)

// ErrNoConditions is returned by New for a bucket whose driver has no conditional requests
// (memblob, fileblob): without them racing publishers would lose updates.
var ErrNoConditions = errors.New("the bucket's driver has no conditional writes (want s3, gs or azblob)")

// New returns the target for the JWKS at key in b, an open bucket the caller closes. raw is
// the target URL, used in every message. The store is found from the driver's client type.
func New(raw string, b *blob.Bucket, key string, o Options) (*Target, error) {
	t := &Target{raw: raw, bucket: b, names: target.NamesFor(key, false), opts: o}
	var s3c *s3.Client
	var gcs *storage.Client
	var az *container.Client
	switch {
	case b.As(&s3c):
		t.store = storeS3
	case b.As(&gcs):
		t.store = storeGCS
	case b.As(&az):
		t.store = storeAzure
	default:
		return nil, fmt.Errorf("target %s: %w", raw, ErrNoConditions)
	}
	return t, nil
}

// ParseURL splits an object-store target URL into the bucket URL a gocloud.dev URL opener
// takes and the object key of the JWKS, per the contract: for s3://BUCKET/KEY,
// gs://BUCKET/KEY and azblob://CONTAINER/KEY the host is the bucket and the path the key. The
// query string stays with the bucket URL unchanged.
func ParseURL(raw string) (bucketURL, key string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	switch u.Scheme {
	case storeS3, storeGCS, storeAzure:
	default:
		return "", "", fmt.Errorf("%q: not an object-store URL (s3://, gs://, azblob://)", raw)
	}
	key = strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || key == "" || strings.HasSuffix(key, "/") {
		return "", "", fmt.Errorf("%q: use %s://BUCKET/path/jwks.json: the path must name the document", raw, u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", "", fmt.Errorf("%q: query: %w", raw, err)
	}
	known := queryParams[u.Scheme]
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, k) {
			return "", "", fmt.Errorf("%q: unknown query parameter %q%s (%s:// takes %s)", raw, k, didyoumean.Suffix(k, known), u.Scheme, strings.Join(known, ", "))
		}
	}
	b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
	return b.String(), key, nil
}

// queryParams are the query parameters each store's gocloud.dev URL opener takes (v0.47: aws
// config and s3blob, gcsblob, azureblob). The openers refuse any other, but only when the
// bucket is opened at run time; ParseURL refuses them as soon as the configuration is read.
var queryParams = map[string][]string{
	storeS3: {"region", "endpoint", "use_path_style", "disable_https", "profile", "anonymous", "role",
		"fips", "dualstack", "accelerate", "hostname_immutable", "rate_limiter_capacity", "ssetype", "kmskeyid", "awssdk",
		"s3ForcePathStyle"},
	storeGCS:   {"access_id", "private_key_path", "anonymous", "universe_domain", "grpc", "zonal"},
	storeAzure: {"domain", "protocol", "cdn", "localemu", "storage_account"},
}

// Read reads each of the set's objects with one GET: body, headers, metadata and revision
// from one response, so a revision always belongs to the body read.
func (t *Target) Read(ctx context.Context) (*target.Snapshot, error) {
	s := &target.Snapshot{Names: t.names, Objects: map[string]*target.Object{}, Attributes: true}
	var revs []string
	for _, name := range t.names.All() {
		o, err := t.read(ctx, name)
		if err != nil {
			return nil, err
		}
		if o != nil {
			s.Objects[name] = o
			revs = append(revs, name+"="+o.Revision)
		}
	}
	if s.Objects[t.names.JWKS] == nil && t.store == storeGCS {
		if err := t.checkGCSBucket(ctx); err != nil {
			return nil, err
		}
	}
	sort.Strings(revs)
	s.Revision = strings.Join(revs, ",")
	return s, nil
}

func (t *Target) read(ctx context.Context, key string) (*target.Object, error) {
	r, err := t.bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		if missingBucket(err) {
			return nil, fmt.Errorf("target %s: the bucket or container %q does not exist (fix: create it, private; jwkspub never creates buckets): %w", t.raw, t.bucketName(), storeError(err))
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.raw, key, t.explain(err))
	}
	defer r.Close()
	if r.Size() > target.MaxObjectSize {
		return nil, fmt.Errorf("target %s: %s is %d bytes, more than a JWKS can be (%d)", t.raw, key, r.Size(), target.MaxObjectSize)
	}
	o := &target.Object{Name: key, ContentType: r.ContentType()}
	var raw map[string]string
	switch t.store {
	case storeS3:
		var out s3.GetObjectOutput
		if !r.As(&out) {
			return nil, fmt.Errorf("target %s: reading %s: the s3 driver did not expose its response", t.raw, key)
		}
		o.Revision = aws.ToString(out.ETag)
		o.CacheControl = aws.ToString(out.CacheControl)
		o.ContentEncoding = aws.ToString(out.ContentEncoding)
		raw = out.Metadata
	case storeGCS:
		var gr *storage.Reader
		if !r.As(&gr) {
			return nil, fmt.Errorf("target %s: reading %s: the gcs driver did not expose its response", t.raw, key)
		}
		o.Revision = strconv.FormatInt(gr.Attrs.Generation, 10)
		o.CacheControl = gr.Attrs.CacheControl
		o.ContentEncoding = gr.Attrs.ContentEncoding
		raw = gr.Metadata()
	case storeAzure:
		var resp azblobblob.DownloadStreamResponse
		if !r.As(&resp) {
			return nil, fmt.Errorf("target %s: reading %s: the azure driver did not expose its response", t.raw, key)
		}
		if resp.ETag != nil {
			o.Revision = string(*resp.ETag)
		}
		o.CacheControl = deref(resp.CacheControl)
		o.ContentEncoding = deref(resp.ContentEncoding)
		raw = make(map[string]string, len(resp.Metadata))
		for k, v := range resp.Metadata {
			raw[k] = deref(v)
		}
	}
	o.Metadata = UnescapeMetadata(raw)
	body, err := io.ReadAll(io.LimitReader(r, target.MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.raw, key, err)
	}
	if len(body) > target.MaxObjectSize {
		return nil, fmt.Errorf("target %s: %s is more than %d bytes", t.raw, key, target.MaxObjectSize)
	}
	o.Body = body
	return o, nil
}

// missingBucket tells a missing bucket from a missing object in a read's NotFound, from the
// store's own error code (S3 NoSuchBucket, GCS ErrBucketNotExist, Azure ContainerNotFound):
// without it, a typo in the bucket name reads as "nothing is live yet". It needs no request
// and no permission beyond reading the objects.
func missingBucket(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
		return true
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return true
	}
	return bloberror.HasCode(err, bloberror.ContainerNotFound)
}

// checkGCSBucket asks whether the bucket exists when the JWKS is absent: GCS answers a read
// in a missing bucket as a missing object. Credentials that may read objects but not the
// bucket's metadata get no answer, and the read stands.
func (t *Target) checkGCSBucket(ctx context.Context) error {
	var c *storage.Client
	if !t.bucket.As(&c) {
		return nil
	}
	if _, err := c.Bucket(t.bucketName()).Attrs(ctx); errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("target %s: the bucket or container %q does not exist (fix: create it, private; jwkspub never creates buckets): %w", t.raw, t.bucketName(), err)
	}
	return nil
}

// Write writes objs in order, each conditional on the revision it was read at in base (or
// create-only where base had none). The first refusal wraps target.ErrConflict.
func (t *Target) Write(ctx context.Context, base *target.Snapshot, objs []target.Object) error {
	for i := range objs {
		o := &objs[i]
		prev := base.Object(o.Name)
		if o.Delete {
			if err := t.delete(ctx, o.Name, prev); err != nil {
				return err
			}
			if t.opts.OnWrite != nil {
				t.opts.OnWrite("delete " + o.Name)
			}
			continue
		}
		if err := t.write(ctx, o, prev); err != nil {
			return err
		}
		if t.opts.OnWrite != nil {
			t.opts.OnWrite("write " + o.Name)
		}
	}
	return nil
}

func (t *Target) write(ctx context.Context, o *target.Object, prev *target.Object) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("target %s: writing %s: %w", t.raw, o.Name, err)
	}
	meta := maps.Clone(o.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[target.MetaSHA256] = o.SHA256()
	opts := &blob.WriterOptions{
		CacheControl:    o.CacheControl,
		ContentType:     o.ContentType,
		ContentEncoding: o.ContentEncoding,
		Metadata:        meta,
		BeforeWrite:     func(as func(any) bool) error { return t.conditionWrite(as, prev) },
	}
	// Upload rather than NewWriter+Write: the whole body is known, and the Azure driver's
	// streaming writer dereferences a nil pipe when a conditional upload is refused.
	err := t.bucket.Upload(ctx, o.Name, bytes.NewReader(o.Body), opts)
	switch {
	case isConflict(err):
		return fmt.Errorf("target %s: writing %s: %w", t.raw, o.Name, target.ErrConflict)
	case gcerrors.Code(err) == gcerrors.NotFound:
		// The object was read as absent, so it is the bucket that is missing (or hidden from
		// these credentials: GCS answers 403 as 404 here).
		return fmt.Errorf("target %s: writing %s: the bucket or container %q does not exist or these credentials cannot see it (fix: create it, private; jwkspub never creates buckets): %w", t.raw, o.Name, t.bucketName(), storeError(err))
	case err != nil:
		return fmt.Errorf("target %s: writing %s: %w", t.raw, o.Name, t.explain(err))
	}
	return nil
}

// conditionWrite sets the precondition (and the opt-in public ACL) on the driver's request.
func (t *Target) conditionWrite(as func(any) bool, prev *target.Object) error {
	switch t.store {
	case storeS3:
		var in *transfermanager.UploadObjectInput
		if !as(&in) {
			return errors.New("the s3 driver did not expose its upload request")
		}
		if prev != nil {
			in.IfMatch = aws.String(prev.Revision)
		} else {
			in.IfNoneMatch = aws.String("*")
		}
		if t.opts.PublicRead {
			in.ACL = s3types.ObjectCannedACLPublicRead
		}
	case storeGCS:
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("the gcs driver did not expose its object handle")
		}
		if prev != nil {
			gen, err := strconv.ParseInt(prev.Revision, 10, 64)
			if err != nil {
				return fmt.Errorf("generation %q: %w", prev.Revision, err)
			}
			*oh = (*oh).If(storage.Conditions{GenerationMatch: gen})
		} else {
			*oh = (*oh).If(storage.Conditions{DoesNotExist: true}) // ifGenerationMatch=0
		}
		if t.opts.PublicRead {
			var w *storage.Writer
			if !as(&w) {
				return errors.New("the gcs driver did not expose its writer")
			}
			w.PredefinedACL = "publicRead"
		}
	case storeAzure:
		var uo *azblob.UploadStreamOptions
		if !as(&uo) {
			return errors.New("the azure driver did not expose its upload options")
		}
		mac := &azblobblob.ModifiedAccessConditions{}
		if prev != nil {
			e := azcore.ETag(prev.Revision)
			mac.IfMatch = &e
		} else {
			e := azcore.ETagAny
			mac.IfNoneMatch = &e
		}
		uo.AccessConditions = &azblob.AccessConditions{ModifiedAccessConditions: mac}
	}
	return nil
}

// delete deletes key only if it is still the revision read.
func (t *Target) delete(ctx context.Context, key string, prev *target.Object) error {
	if prev == nil {
		return nil // planned from an absent object: nothing to delete
	}
	opts := &blob.DeleteOptions{BeforeDelete: func(as func(any) bool) error {
		switch t.store {
		case storeS3:
			var in *s3.DeleteObjectInput
			if as(&in) {
				in.IfMatch = aws.String(prev.Revision)
			}
		case storeGCS:
			var oh **storage.ObjectHandle
			if gen, err := strconv.ParseInt(prev.Revision, 10, 64); err == nil && as(&oh) {
				*oh = (*oh).If(storage.Conditions{GenerationMatch: gen})
			}
		case storeAzure:
			var do *azblobblob.DeleteOptions
			if as(&do) {
				e := azcore.ETag(prev.Revision)
				do.AccessConditions = &azblobblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: &e}}
			}
		}
		return nil
	}}
	err := t.bucket.DeleteWithOptions(ctx, key, opts)
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil
	case isConflict(err):
		return fmt.Errorf("target %s: deleting %s: %w", t.raw, key, target.ErrConflict)
	case err != nil:
		return fmt.Errorf("target %s: deleting %s: %w", t.raw, key, t.explain(err))
	}
	return nil
}

// bucketName is the bucket (container) of the target, for messages.
func (t *Target) bucketName() string {
	if u, err := url.Parse(t.raw); err == nil {
		return u.Host
	}
	return t.raw
}

// explain turns the store's errors that adopters meet first (wrong secret, unknown access
// key, denied access, an expired session token, a bucket host that does not resolve, nothing
// listening at the endpoint) into what is wrong and the fix. Others are shortened by
// storeError. The SDK's error stays reachable through errors.As either way.
func (t *Target) explain(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		what := "S3 " + code
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			what = fmt.Sprintf("HTTP %d %s", re.HTTPStatusCode(), code)
		}
		switch code {
		case "SignatureDoesNotMatch":
			return &shortError{msg: "the store rejected the request signature: the secret access key is not the one of this access key ID (" + what + "; fix: set AWS_SECRET_ACCESS_KEY, or aws_secret_access_key in the profile, to the secret issued with the access key)", err: err}
		case "InvalidAccessKeyId":
			return &shortError{msg: "the store does not know this access key ID (" + what + "; fix: check AWS_ACCESS_KEY_ID or the profile in use (AWS_PROFILE); a key of another account or store is unknown here)", err: err}
		case "AccessDenied", "AllAccessDisabled", "AccountProblem":
			return &shortError{msg: "access denied (" + what + "; fix: grant these credentials s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket's objects)", err: err}
		case "ExpiredToken", "TokenRefreshRequired", "RequestExpired":
			return &shortError{msg: "the session token has expired (" + what + "; fix: get fresh temporary credentials: aws sso login, or re-run the step that assumes the role)", err: err}
		case "InvalidToken", "InvalidTokenId":
			return &shortError{msg: "the session token is not valid for these credentials (" + what + "; fix: unset AWS_SESSION_TOKEN with long-lived keys, or get fresh temporary credentials)", err: err}
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if t.store == storeS3 {
			q := t.query()
			if q.Get("endpoint") != "" && q.Get("use_path_style") == "" && strings.HasPrefix(dns.Name, t.bucketName()+".") {
				return &shortError{msg: fmt.Sprintf("cannot resolve %s: without use_path_style the bucket is addressed as a subdomain of the endpoint (fix: add use_path_style=true to the target URL's query, as MinIO and most S3-compatible stores need)", dns.Name), err: err}
			}
		}
		return &shortError{msg: fmt.Sprintf("cannot resolve %s (fix: check the endpoint or bucket name in the target URL, and DNS)", dns.Name), err: err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		addr := "the store"
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Addr != nil {
			addr = oe.Addr.String()
		}
		return &shortError{msg: fmt.Sprintf("connection refused by %s: nothing accepts connections there (fix: check endpoint= in the target URL, and that the store is running)", addr), err: err}
	}
	if gcerrors.Code(err) == gcerrors.PermissionDenied {
		return &shortError{msg: storeError(err).Error() + " (fix: grant these credentials read and write on the bucket's objects)", err: err}
	}
	return storeError(err)
}

// query is the target URL's query, for explain.
func (t *Target) query() url.Values {
	if u, err := url.Parse(t.raw); err == nil {
		return u.Query()
	}
	return nil
}

// storeError shortens the AWS SDK's error text to its status, code and message, and the Azure
// SDK's multi-line text (request, response body) to its status and error code; the original
// stays reachable through errors.As.
func storeError(err error) error {
	// The AWS SDK's text carries the operation, request and host IDs: keep status, code, message.
	var ae smithy.APIError
	var hre *awshttp.ResponseError
	if errors.As(err, &ae) && errors.As(err, &hre) {
		return &shortError{msg: fmt.Sprintf("HTTP %d %s: %s", hre.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage()), err: err}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	msg := fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
	if r := re.RawResponse; r != nil && r.Request != nil && r.Request.URL != nil {
		u := *r.Request.URL
		u.RawQuery = "" // a SAS token travels in the query
		msg = r.Request.Method + " " + u.String() + ": " + msg
	}
	return &shortError{msg: msg, err: err}
}

type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// isConflict reports whether a store refused a conditional request: HTTP 412 on every store,
// and S3's 409 ConditionalRequestConflict when two conditional writes to one key overlap.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ConditionalRequestConflict" || ae.ErrorCode() == "PreconditionFailed")
}

// UnescapeMetadata undoes gocloud's escaping of metadata keys ("__0x2d__" for '-' on Azure,
// URL escapes on S3) and values, and folds keys to lower case, as GCS and Azure capitalise
// them on the way back.
func UnescapeMetadata(raw map[string]string) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		k = hexUnescape(k)
		if u, err := url.PathUnescape(k); err == nil {
			k = u
		}
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		out[strings.ToLower(k)] = v
	}
	return out
}

// hexUnescape replaces gocloud's "__0xHH__" escapes with the byte they stand for.
func hexUnescape(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "__0x")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+4:], "__")
		if j < 0 {
			break
		}
		n, err := strconv.ParseUint(s[i+4:i+4+j], 16, 32)
		if err != nil || j == 0 {
			b.WriteString(s[:i+4])
			s = s[i+4:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteRune(rune(n))
		s = s[i+4+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
