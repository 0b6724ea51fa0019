package blob

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
)

func TestUnescapeMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want map[string]string
	}{
		{"empty", nil, nil},
		{"s3 as written", map[string]string{"sha256": "ab12", "jwkspub-version": "%28devel%29"}, map[string]string{"sha256": "ab12", "jwkspub-version": "(devel)"}},
		{"gcs capitalises", map[string]string{"Sha256": "ab12", "Jwkspub-Version": "v1.2.0"}, map[string]string{"sha256": "ab12", "jwkspub-version": "v1.2.0"}},
		{"azure hex-escapes the dash", map[string]string{"Jwkspub__0x2d__version": "v1"}, map[string]string{"jwkspub-version": "v1"}},
		{"not an escape", map[string]string{"a__0xzz__b": "v", "c__0x": "w"}, map[string]string{"a__0xzz__b": "v", "c__0x": "w"}},
		{"bad value escape kept", map[string]string{"k": "100%"}, map[string]string{"k": "100%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := UnescapeMetadata(tc.raw); !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsConflict(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "ConditionalRequestConflict"}), true},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "PreconditionFailed"}), true},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "AccessDenied"}), false},
	} {
		if got := isConflict(tc.err); got != tc.want {
			t.Errorf("isConflict(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// FuzzUnescapeMetadata: metadata comes from the store, written by anyone with access to the
// bucket; unescaping it must never panic, and keys always come out lower case.
func FuzzUnescapeMetadata(f *testing.F) {
	for _, s := range []string{"Jwkspub__0x2d__version", "__0x__", "__0xffffffffff__", "a__0x41__b__0x", "%zz", "Sha256"} {
		f.Add(s, "v%28x%29")
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		for got := range UnescapeMetadata(map[string]string{k: v}) {
			if got != strings.ToLower(got) {
				t.Errorf("key %q not lower case", got)
			}
		}
	})
}

func TestParseURLQuery(t *testing.T) {
	for _, tc := range []struct {
		raw, bucket, err string
	}{
		{raw: "s3://b/k.json?region=eu-west-1&use_path_style=true&endpoint=http%3A%2F%2F127.0.0.1%3A9000", bucket: "s3://b?region=eu-west-1&use_path_style=true&endpoint=http%3A%2F%2F127.0.0.1%3A9000"},
		{raw: "s3://b/k.json?regoin=eu-west-1", err: `"s3://b/k.json?regoin=eu-west-1": unknown query parameter "regoin"; did you mean "region"? (s3:// takes region, endpoint,`},
		{raw: "s3://b/k.json?use_path_styl=true", err: `unknown query parameter "use_path_styl"; did you mean "use_path_style"?`},
		{raw: "gs://b/k.json?colour=red", err: `unknown query parameter "colour" (gs:// takes access_id,`},
		{raw: "gs://b/k.json?anonymous=true", bucket: "gs://b?anonymous=true"},
		{raw: "azblob://c/k.json?localemu=true&domain=127.0.0.1:10000", bucket: "azblob://c?localemu=true&domain=127.0.0.1:10000"},
		{raw: "azblob://c/k.json?region=x", err: `unknown query parameter "region" (azblob:// takes domain,`},
		{raw: "s3://b/?region=x", err: "the path must name the document"},
	} {
		b, _, err := ParseURL(tc.raw)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseURL(%q) = %v, want error containing %q", tc.raw, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
		case tc.err == "" && b != tc.bucket:
			t.Errorf("ParseURL(%q) bucket = %q, want %q", tc.raw, b, tc.bucket)
		}
	}
}

// TestExplain covers the translations MinIO cannot produce on demand (an expired token, denied
// access); the others are tested against MinIO in internal/integration (TestS3ErrorsExplained).
func TestExplain(t *testing.T) {
	s3t := &Target{raw: "s3://b/jwks.json?endpoint=http%3A%2F%2Fminio.internal%3A9000", store: storeS3}
	for _, tc := range []struct {
		t    *Target
		err  error
		want string
	}{
		{s3t, &smithy.GenericAPIError{Code: "ExpiredToken"}, "the session token has expired (S3 ExpiredToken; fix: get fresh temporary credentials: aws sso login, or re-run the step that assumes the role)"},
		{s3t, &smithy.GenericAPIError{Code: "AccessDenied"}, "access denied (S3 AccessDenied; fix: grant these credentials s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket's objects)"},
		{s3t, &smithy.GenericAPIError{Code: "SignatureDoesNotMatch"}, "the store rejected the request signature: the secret access key is not the one of this access key ID (S3 SignatureDoesNotMatch; fix:"},
		{s3t, &net.DNSError{Name: "b.minio.internal", Err: "no such host"}, "cannot resolve b.minio.internal: without use_path_style the bucket is addressed as a subdomain of the endpoint (fix: add use_path_style=true"},
		// With use_path_style, or without an endpoint (AWS itself), a DNS failure is not that.
		{&Target{raw: "s3://b/k?endpoint=http%3A%2F%2Fminio.internal%3A9000&use_path_style=true", store: storeS3}, &net.DNSError{Name: "minio.internal"}, "cannot resolve minio.internal (fix: check the endpoint or bucket name in the target URL, and DNS)"},
		{&Target{raw: "s3://b/k", store: storeS3}, &net.DNSError{Name: "b.s3.amazonaws.com"}, "cannot resolve b.s3.amazonaws.com (fix:"},
		{s3t, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused by 127.0.0.1:9: nothing accepts connections there (fix: check endpoint= in the target URL, and that the store is running)"},
		{s3t, errors.New("boom"), "get: boom"},
	} {
		got := tc.t.explain(fmt.Errorf("get: %w", tc.err))
		if !strings.HasPrefix(got.Error(), tc.want) {
			t.Errorf("explain(%v) = %q, want prefix %q", tc.err, got, tc.want)
		}
		if !errors.Is(got, tc.err) && !errors.As(got, new(*net.DNSError)) {
			t.Errorf("explain(%v) lost the SDK error", tc.err)
		}
	}
}
