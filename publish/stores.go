package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	s3types "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// This file holds what gocloud.dev/blob has no portable form for: reading an object's body,
// headers and revision in one request, and writing or deleting only if the object is still the
// revision that was read. Each object store gets its native form through As.

// ErrConflict is wrapped by a write or delete that lost a race: the object changed after it
// was read (or appeared after it was read as absent), so the store refused the conditional
// request and nothing was overwritten.
var ErrConflict = errors.New("the object changed since it was read (another publisher wrote it); nothing was overwritten")

// revision identifies the stored version an object was read at. Writes are conditional on it.
type revision struct {
	// exists is false when the object was absent: the write must then create it.
	exists bool
	// etag is the S3 or Azure entity tag, quoted as the store sent it.
	etag string
	// generation is the GCS object generation.
	generation int64
}

// revisionOf returns the revision o was read at; nil means the object was absent.
func revisionOf(o *Object) revision {
	if o == nil {
		return revision{}
	}
	return o.rev
}

// Object stores whose native requests this file knows.
const (
	storeS3    = "s3"
	storeGCS   = "gs"
	storeAzure = "azblob"
)

// store names the object store behind the bucket, found from the driver's own client type
// (not from the URL scheme: a test may put a memblob bucket behind an s3:// location), or ""
// for a driver without entity tags (a directory, memory), written create-only when absent.
func (t *Target) store() string {
	var s3c *s3.Client
	var gcs *storage.Client
	var az *container.Client
	switch {
	case t.Bucket.As(&s3c):
		return storeS3
	case t.Bucket.As(&gcs):
		return storeGCS
	case t.Bucket.As(&az):
		return storeAzure
	}
	return ""
}

// readNative reads key's body, headers, metadata and revision with one GET: gocloud's
// Attributes would be a second request, and a revision taken from another request than the
// body could belong to another version.
func (t *Target) readNative(ctx context.Context, key string) (*Object, error) {
	r, err := t.Bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.Raw, key, storeError(err))
	}
	defer r.Close()
	if r.Size() > maxObjectSize {
		return nil, fmt.Errorf("target %s: %s is %d bytes, more than a JWKS can be (%d)", t.Raw, key, r.Size(), maxObjectSize)
	}
	o := &Object{ContentType: r.ContentType(), rev: revision{exists: true}}
	var raw map[string]string
	switch t.store() {
	case storeS3:
		var out s3.GetObjectOutput
		if !r.As(&out) {
			return nil, fmt.Errorf("target %s: reading %s: the s3 driver did not expose its response", t.Raw, key)
		}
		o.rev.etag = aws.ToString(out.ETag)
		o.CacheControl = aws.ToString(out.CacheControl)
		o.ContentEncoding = aws.ToString(out.ContentEncoding)
		raw = out.Metadata
	case storeGCS:
		var gr *storage.Reader
		if !r.As(&gr) {
			return nil, fmt.Errorf("target %s: reading %s: the gcs driver did not expose its response", t.Raw, key)
		}
		o.rev.generation = gr.Attrs.Generation
		o.CacheControl = gr.Attrs.CacheControl
		o.ContentEncoding = gr.Attrs.ContentEncoding
		raw = gr.Metadata()
	case storeAzure:
		var resp azblobblob.DownloadStreamResponse
		if !r.As(&resp) {
			return nil, fmt.Errorf("target %s: reading %s: the azure driver did not expose its response", t.Raw, key)
		}
		if resp.ETag != nil {
			o.rev.etag = string(*resp.ETag)
		}
		o.CacheControl = deref(resp.CacheControl)
		o.ContentEncoding = deref(resp.ContentEncoding)
		raw = make(map[string]string, len(resp.Metadata))
		for k, v := range resp.Metadata {
			raw[k] = deref(v)
		}
	}
	o.Metadata = unescapeMetadata(raw)
	body, err := io.ReadAll(io.LimitReader(r, maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("target %s: reading %s: %w", t.Raw, key, err)
	}
	if len(body) > maxObjectSize {
		return nil, fmt.Errorf("target %s: %s is more than %d bytes", t.Raw, key, maxObjectSize)
	}
	o.Body = body
	return o, nil
}

// writeNative uploads o in one request, conditional on prev: If-Match on the ETag read (S3,
// Azure), ifGenerationMatch (GCS), or create-only when the object was absent.
func (t *Target) writeNative(ctx context.Context, key string, o *Object, opts *blob.WriterOptions, prev revision) error {
	opts.BeforeWrite = func(as func(any) bool) error { return t.conditionWrite(as, prev) }
	// Upload rather than NewWriter+Write: the whole body is known, and the Azure driver's
	// streaming writer dereferences a nil pipe when a conditional upload is refused.
	err := t.Bucket.Upload(ctx, key, bytes.NewReader(o.Body), opts)
	switch {
	case isConflict(err):
		return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, ErrConflict)
	case gcerrors.Code(err) == gcerrors.NotFound:
		// The object was read as absent, so it is the bucket that is missing (or hidden from
		// these credentials: GCS answers 403 as 404 here).
		return fmt.Errorf("target %s: writing %s: the bucket or container %q does not exist or these credentials cannot see it (fix: create it, private; jwkspub never creates buckets): %w", t.Raw, key, t.bucketName(), storeError(err))
	case err != nil:
		return fmt.Errorf("target %s: writing %s: %w", t.Raw, key, storeError(err))
	}
	return nil
}

// storeError shortens the Azure SDK's multi-line error text (request, response body) to its
// status and error code; the original stays reachable through errors.As.
func storeError(err error) error {
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

// bucketName is the bucket (container) of the target, for messages.
func (t *Target) bucketName() string {
	if u, err := url.Parse(t.BucketURL); err == nil {
		return u.Host
	}
	return t.BucketURL
}

type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// conditionWrite sets the precondition (and the opt-in public ACL) on the driver's request.
func (t *Target) conditionWrite(as func(any) bool, prev revision) error {
	switch t.store() {
	case storeS3:
		var in *transfermanager.UploadObjectInput
		if !as(&in) {
			return errors.New("the s3 driver did not expose its upload request")
		}
		if prev.exists {
			in.IfMatch = aws.String(prev.etag)
		} else {
			in.IfNoneMatch = aws.String("*")
		}
		if t.PublicRead {
			in.ACL = s3types.ObjectCannedACLPublicRead
		}
	case storeGCS:
		var oh **storage.ObjectHandle
		if !as(&oh) {
			return errors.New("the gcs driver did not expose its object handle")
		}
		if prev.exists {
			*oh = (*oh).If(storage.Conditions{GenerationMatch: prev.generation})
		} else {
			*oh = (*oh).If(storage.Conditions{DoesNotExist: true}) // ifGenerationMatch=0
		}
		if t.PublicRead {
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
		if prev.exists {
			e := azcore.ETag(prev.etag)
			mac.IfMatch = &e
		} else {
			e := azcore.ETagAny
			mac.IfNoneMatch = &e
		}
		uo.AccessConditions = &azblob.AccessConditions{ModifiedAccessConditions: mac}
	}
	return nil
}

// deleteNative deletes key only if it is still the revision read.
func (t *Target) deleteNative(ctx context.Context, key string, prev revision) error {
	if !prev.exists {
		return nil // planned from an absent object: nothing to delete
	}
	opts := &blob.DeleteOptions{BeforeDelete: func(as func(any) bool) error {
		switch t.store() {
		case storeS3:
			var in *s3.DeleteObjectInput
			if as(&in) {
				in.IfMatch = aws.String(prev.etag)
			}
		case storeGCS:
			var oh **storage.ObjectHandle
			if as(&oh) {
				*oh = (*oh).If(storage.Conditions{GenerationMatch: prev.generation})
			}
		case storeAzure:
			var do *azblobblob.DeleteOptions
			if as(&do) {
				e := azcore.ETag(prev.etag)
				do.AccessConditions = &azblobblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: &e}}
			}
		}
		return nil
	}}
	err := t.Bucket.DeleteWithOptions(ctx, key, opts)
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return nil
	case isConflict(err):
		return fmt.Errorf("target %s: deleting %s: %w", t.Raw, key, ErrConflict)
	case err != nil:
		return fmt.Errorf("target %s: deleting %s: %w", t.Raw, key, storeError(err))
	}
	return nil
}

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

// unescapeMetadata undoes gocloud's escaping of metadata keys ("__0x2d__" for '-' on Azure,
// URL escapes on S3) and values, and folds keys to lower case, as GCS and Azure capitalise
// them on the way back.
func unescapeMetadata(raw map[string]string) map[string]string {
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
