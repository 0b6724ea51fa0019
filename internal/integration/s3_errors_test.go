//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3ErrorsExplained drives the binary against the real MinIO with the mistakes adopters
// make first, and requires what is wrong and the fix, printed once, instead of the SDK's text
// (RequestID, HostID, "operation error S3: GetObject").
func TestS3ErrorsExplained(t *testing.T) {
	end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
	bin := buildJwkspub(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k1.json"), []byte(`{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	bucket := "jwkspub-err-" + hex.EncodeToString(rnd[:])
	good := s3URL(end, bucket)
	// The bucket exists and is private: no anonymous read.
	tg := openTarget(t, good)
	var c *s3.Client
	if !tg.Bucket.As(&c) {
		t.Fatal("no *s3.Client")
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	creds := []string{"AWS_ACCESS_KEY_ID=" + os.Getenv("AWS_ACCESS_KEY_ID"), "AWS_SECRET_ACCESS_KEY=" + os.Getenv("AWS_SECRET_ACCESS_KEY"), "AWS_REGION=us-east-1"}
	with := func(kv ...string) []string { return append(append([]string{}, creds...), kv...) }
	noPathStyle := "s3://" + bucket + "/" + jwksKey + "?endpoint=" + url.QueryEscape(end) + "&region=us-east-1"
	u, _ := url.Parse(end)
	for _, tc := range []struct {
		name   string
		env    []string
		target string
		want   string
	}{
		{"wrong secret", with("AWS_SECRET_ACCESS_KEY=not-the-secret"), good,
			"reading .well-known/jwks.json: the store rejected the request signature: the secret access key is not the one of this access key ID (HTTP 403 SignatureDoesNotMatch; fix: set AWS_SECRET_ACCESS_KEY, or aws_secret_access_key in the profile, to the secret issued with the access key)"},
		{"unknown access key", with("AWS_ACCESS_KEY_ID=nobody-here"), good,
			"reading .well-known/jwks.json: the store does not know this access key ID (HTTP 403 InvalidAccessKeyId; fix: check AWS_ACCESS_KEY_ID or the profile in use (AWS_PROFILE); a key of another account or store is unknown here)"},
		{"bad session token", with("AWS_SESSION_TOKEN=stale"), good,
			"reading .well-known/jwks.json: the session token is not valid for these credentials (HTTP 403 InvalidTokenId; fix: unset AWS_SESSION_TOKEN with long-lived keys, or get fresh temporary credentials)"},
		{"missing use_path_style", creds, noPathStyle,
			"reading .well-known/jwks.json: cannot resolve " + bucket + "." + u.Hostname() + ": without use_path_style the bucket is addressed as a subdomain of the endpoint (fix: add use_path_style=true to the target URL's query, as MinIO and most S3-compatible stores need)"},
		{"missing bucket", creds, s3URL(end, bucket+"-missing"),
			`the bucket or container "` + bucket + `-missing" does not exist (fix: create it, private; jwkspub never creates buckets): HTTP 404 NoSuchBucket: The specified bucket does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range []string{"diff", "publish", "status"} {
				out, errOut, code := runJwkspub(t, bin, dir, tc.env, cmd, "--source", "file:k1.json", "--target", tc.target)
				if code != 1 {
					t.Fatalf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", cmd, code, out, errOut)
				}
				line := `  set "default": target ` + tc.target + ": " + tc.want
				if !strings.Contains(errOut, line+"\n") {
					t.Errorf("%s: stderr lacks\n%s\ngot:\n%s", cmd, line, errOut)
				}
				if n := strings.Count(out+errOut, tc.want); n != 1 {
					t.Errorf("%s: the error is printed %d times, want once:\nstdout: %s\nstderr: %s", cmd, n, out, errOut)
				}
				for _, raw := range []string{"RequestID", "HostID", "operation error"} {
					if strings.Contains(out+errOut, raw) {
						t.Errorf("%s: SDK text %q in the output:\n%s", cmd, raw, errOut)
					}
				}
			}
		})
	}

	// A private bucket's own URL answers 403 to verifiers: verify --expect says so, exit 1
	// with the status and the hint, not drift (2).
	out, errOut, code := runJwkspub(t, bin, dir, creds, "publish", "--source", "file:k1.json", "--target", good)
	if code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errOut)
	}
	cfg := filepath.Join(dir, "jwkspub.yaml")
	if err := os.WriteFile(cfg, []byte("sets:\n  - name: prod\n    sources: [file:k1.json]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	objURL := end + "/" + bucket + "/" + jwksKey
	out, errOut, code = runJwkspub(t, bin, dir, creds, "verify", "--config", cfg, "--url", objURL, "--expect")
	want := "jwkspub: fetching " + objURL + ": status 403 Forbidden (verifiers fetch without credentials; fix: verify the URL verifiers use (the CDN's), or let anonymous clients read this object, e.g. a bucket policy granting s3:GetObject on it)\n"
	if code != 1 || errOut != want || out != "" {
		t.Errorf("verify --expect of a private bucket: exit %d, want 1\nstdout: %s\nstderr: %s\nwant stderr: %s", code, out, errOut, want)
	}
	_, errOut, code = runJwkspub(t, bin, dir, creds, "verify", "--url", objURL)
	if code != 1 || errOut != want {
		t.Errorf("verify of a private bucket: exit %d, want 1\nstderr: %s", code, errOut)
	}
}
