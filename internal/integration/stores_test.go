//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/publishtest"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/target"
	targetblob "github.com/jwkspub/jwkspub/publish/target/blob"
	"github.com/jwkspub/jwkspub/publish/target/targettest"
)

// jwksKey is where every store test publishes: an OIDC-style path inside the bucket.
const jwksKey = ".well-known/jwks.json"

// t0 is the fixed clock the store tests start at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// store is one real object store the suite publishes to.
type store struct {
	name string
	// targetURL is the target URL (contract form) of jwksKey in bucket name.
	targetURL func(name string) string
	// create makes the bucket (or container) through the store's own SDK, readable by plain
	// HTTP GET so the test can check headers as a CDN or verifier sees them.
	create func(ctx context.Context, b *blob.Bucket, name string) error
	// httpURL is the plain (anonymous) HTTP URL of an object.
	httpURL func(name, key string) string
}

// need returns the environment variable or fails the test: `make integration` sets it.
func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with `make integration` (.ci/services.sh starts the stores)", name)
	}
	return v
}

func stores(t testing.TB) []store {
	s3end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
	gcsHost := need(t, "STORAGE_EMULATOR_HOST")
	azconn := need(t, "AZURE_STORAGE_CONNECTION_STRING")
	azend := ""
	for _, part := range strings.Split(azconn, ";") {
		if v, ok := strings.CutPrefix(part, "BlobEndpoint="); ok {
			azend = strings.TrimSuffix(v, "/")
		}
	}
	return []store{
		{
			name:      "s3",
			targetURL: func(n string) string { return s3URL(s3end, n) },
			create:    createS3,
			httpURL:   func(n, k string) string { return s3end + "/" + n + "/" + k },
		},
		{
			name:      "gs",
			targetURL: func(n string) string { return "gs://" + n + "/" + jwksKey },
			create: func(ctx context.Context, b *blob.Bucket, n string) error {
				var c *storage.Client
				if !b.As(&c) {
					return errors.New("no *storage.Client")
				}
				return c.Bucket(n).Create(ctx, "jwkspub-test", nil)
			},
			httpURL: func(n, k string) string {
				return "http://" + gcsHost + "/storage/v1/b/" + n + "/o/" + url.PathEscape(k) + "?alt=media"
			},
		},
		{
			name:      "azblob",
			targetURL: func(n string) string { return "azblob://" + n + "/" + jwksKey },
			create: func(ctx context.Context, b *blob.Bucket, n string) error {
				var c *container.Client
				if !b.As(&c) {
					return errors.New("no *container.Client")
				}
				access := container.PublicAccessTypeBlob
				_, err := c.Create(ctx, &container.CreateOptions{Access: &access})
				return err
			},
			httpURL: func(n, k string) string { return azend + "/" + n + "/" + k },
		},
	}
}

func s3URL(endpoint, bucket string) string {
	return "s3://" + bucket + "/" + jwksKey + "?endpoint=" + url.QueryEscape(endpoint) + "&use_path_style=true&region=us-east-1"
}

// createS3 makes the bucket and lets anonymous clients GET its objects, as a CDN origin
// policy would.
func createS3(ctx context.Context, b *blob.Bucket, n string) error {
	var c *s3.Client
	if !b.As(&c) {
		return errors.New("no *s3.Client")
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(n)}); err != nil {
		return err
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, n)
	_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(n), Policy: aws.String(policy)})
	return err
}

// openURL opens a bucket URL the way cmd/jwkspub does: s3blob's credential-chain opener, and
// gocloud's default mux (where gcsblob and azureblob register theirs) for the others.
func openURL(ctx context.Context, raw string) (*blob.Bucket, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case s3blob.Scheme:
		return (&s3blob.URLOpener{}).OpenBucketURL(ctx, u)
	case gcsblob.Scheme, azureblob.Scheme:
		return blob.DefaultURLMux().OpenBucketURL(ctx, u)
	}
	return nil, fmt.Errorf("no opener for %s", raw)
}

// freshTarget creates a new bucket in s and returns a target publishing to jwksKey in it.
func freshTarget(t testing.TB, s store) (*storeTarget, string) {
	t.Helper()
	ctx := context.Background()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "jwkspub-" + hex.EncodeToString(rnd[:])
	tg := openTarget(t, s.targetURL(name))
	if err := s.create(ctx, tg.Bucket, name); err != nil {
		t.Fatalf("%s: creating bucket %s: %v", s.name, name, err)
	}
	return tg, name
}

// storeTarget is an object-store target together with its bucket, which the tests read and
// write behind the publisher's back.
type storeTarget struct {
	publish.Destination
	Bucket *blob.Bucket
	key    string
}

// setPublicRead reopens the target with public_read on or off.
func (s *storeTarget) setPublicRead(t testing.TB, v bool) {
	t.Helper()
	bt, err := targetblob.New(s.URL, s.Bucket, s.key, targetblob.Options{PublicRead: v})
	if err != nil {
		t.Fatal(err)
	}
	s.Target = bt
}

// openTarget opens a target URL (bucket URL with the key as its path).
func openTarget(t testing.TB, raw string) *storeTarget {
	t.Helper()
	bucketURL, key, err := targetblob.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openURL(context.Background(), bucketURL)
	if err != nil {
		t.Fatalf("opening %s: %v", bucketURL, err)
	}
	t.Cleanup(func() { b.Close() })
	tg := &storeTarget{Destination: publish.Destination{URL: raw}, Bucket: b, key: key}
	tg.setPublicRead(t, false)
	return tg
}

func setConfig() *config.SetConfig {
	return &config.SetConfig{Name: "prod", Output: config.Output{CacheControl: "public, max-age=60"},
		Rotation: rotation.Rules{MaxTokenLifetime: rotation.Duration(24 * time.Hour)}}
}

// publishTo plans, guards and publishes like `jwkspub publish`.
func publishTo(ctx context.Context, tg *storeTarget, keys *jwks.Set, now time.Time, hook func(*publish.Plan, int)) (*publish.Plan, error) {
	p, err := publish.PlanTarget(ctx, tg.Destination, publish.PlanOptions{Set: setConfig(), Keys: keys, Now: now, Version: "test"})
	if err != nil {
		return nil, err
	}
	if err := publish.Guard([]*publish.Plan{p}, publish.GuardOptions{}); err != nil {
		return p, err
	}
	if !p.Changed() {
		return p, nil
	}
	return publish.Publish(ctx, p, publish.PublishOptions{BeforeWrite: hook})
}

// liveDoc reads the JWKS and its attributes straight from the bucket.
func liveDoc(t *testing.T, tg *storeTarget) ([]byte, *blob.Attributes) {
	t.Helper()
	ctx := context.Background()
	a, err := tg.Bucket.Attributes(ctx, jwksKey)
	if err != nil {
		t.Fatalf("attributes of %s: %v", jwksKey, err)
	}
	body, err := tg.Bucket.ReadAll(ctx, jwksKey)
	if err != nil {
		t.Fatal(err)
	}
	return body, a
}

func encoded(t *testing.T, keys *jwks.Set) []byte {
	t.Helper()
	b, err := jwks.Encode(keys, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compete writes body at the JWKS key behind the publisher's back, unconditionally.
func compete(t *testing.T, tg *storeTarget, body []byte, cacheControl string) {
	t.Helper()
	err := tg.Bucket.Upload(context.Background(), jwksKey, bytes.NewReader(body),
		&blob.WriterOptions{ContentType: "application/json", CacheControl: cacheControl})
	if err != nil {
		t.Fatalf("competing write: %v", err)
	}
}

func TestStores(t *testing.T) {
	for _, s := range stores(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, s) })
			t.Run("dry-run", func(t *testing.T) { testDryRun(t, s) })
			t.Run("race", func(t *testing.T) { testRace(t, s) })
			t.Run("lost-twice", func(t *testing.T) { testLostTwice(t, s) })
			t.Run("first-create-race", func(t *testing.T) { testFirstCreateRace(t, s) })
		})
	}
}

// testLifecycle: first publish, headers through the attribute API and plain HTTP, an
// unchanged publish that writes nothing, a rotation, and a guard refusal that leaves the
// object untouched.
func testLifecycle(t *testing.T, s store) {
	ctx := context.Background()
	tg, name := freshTarget(t, s)

	p, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil)
	if err != nil {
		t.Fatalf("first publish: %v", err)
	}
	if !p.First {
		t.Errorf("first publish planned as not first: %+v", p)
	}
	want := encoded(t, publishtest.Keys(t, 1))
	body, a := liveDoc(t, tg)
	if !bytes.Equal(body, want) {
		t.Fatalf("published %s, want %s", body, want)
	}
	sum := sha256.Sum256(want)
	if a.CacheControl != "public, max-age=60" || a.ContentType != "application/json" || a.Metadata[target.MetaSHA256] != hex.EncodeToString(sum[:]) {
		t.Errorf("attributes: Cache-Control %q, Content-Type %q, metadata %v", a.CacheControl, a.ContentType, a.Metadata)
	}
	if _, err := tg.Bucket.Attributes(ctx, jwksKey+target.StateSuffix); err != nil {
		t.Errorf("state object: %v", err)
	}

	// As a verifier or CDN sees it: plain anonymous GET.
	resp, err := http.Get(s.httpURL(name, jwksKey))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		t.Fatalf("GET %s: %d %s", s.httpURL(name, jwksKey), resp.StatusCode, got)
	}
	if cc, ct := resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"); cc != "public, max-age=60" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET headers: Cache-Control %q, Content-Type %q", cc, ct)
	}

	// Unchanged: nothing planned, nothing written (ETag and modification time kept).
	time.Sleep(1100 * time.Millisecond) // modification times have one-second resolution on S3
	p, err = publishTo(ctx, tg, publishtest.Keys(t, 1), t0.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() {
		t.Errorf("unchanged set planned %v", p.Objects)
	}
	_, a2 := liveDoc(t, tg)
	if a2.ETag != a.ETag || !a2.ModTime.Equal(a.ModTime) {
		t.Errorf("unchanged publish rewrote the document: ETag %s -> %s, mtime %v -> %v", a.ETag, a2.ETag, a.ModTime, a2.ModTime)
	}

	// Rotation: k2 joins.
	p, err = publishTo(ctx, tg, publishtest.Keys(t, 1, 2), t0.Add(2*time.Hour), nil)
	if err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if a, _, _ := p.Count(); a != 1 {
		t.Errorf("rotation plan: %+v", p.Keys)
	}
	body, a3 := liveDoc(t, tg)
	if !bytes.Equal(body, encoded(t, publishtest.Keys(t, 1, 2))) {
		t.Fatalf("after rotation: %s", body)
	}

	// Removing k1 now, before its successor has been cached and its tokens expired: refused,
	// and the live document is untouched.
	_, err = publishTo(ctx, tg, publishtest.Keys(t, 2), t0.Add(3*time.Hour), nil)
	var ge *publish.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("early removal: got %v, want a guard refusal", err)
	}
	body, a4 := liveDoc(t, tg)
	if a4.ETag != a3.ETag || !bytes.Equal(body, encoded(t, publishtest.Keys(t, 1, 2))) {
		t.Errorf("guard refusal changed the object: ETag %s -> %s", a3.ETag, a4.ETag)
	}
}

// testDryRun: planning (diff, publish --dry-run) writes nothing, on an empty bucket and on a
// live one.
func testDryRun(t *testing.T, s store) {
	ctx := context.Background()
	tg, _ := freshTarget(t, s)
	opts := publish.PlanOptions{Set: setConfig(), Keys: publishtest.Keys(t, 1), Now: t0, Version: "test"}
	p, err := publish.PlanTarget(ctx, tg.Destination, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Changed() {
		t.Fatal("a first publication planned no writes")
	}
	it := tg.Bucket.List(nil)
	if obj, err := it.Next(ctx); err != io.EOF {
		t.Fatalf("dry run on an empty bucket left %v (err %v)", obj, err)
	}
	if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
		t.Fatal(err)
	}
	_, before := liveDoc(t, tg)
	opts.Keys, opts.Now = publishtest.Keys(t, 1, 2), t0.Add(time.Hour)
	if p, err = publish.PlanTarget(ctx, tg.Destination, opts); err != nil || !p.Changed() {
		t.Fatalf("rotation plan: %v %v", p, err)
	}
	body, after := liveDoc(t, tg)
	if after.ETag != before.ETag || !bytes.Equal(body, encoded(t, publishtest.Keys(t, 1))) {
		t.Errorf("dry run changed the document")
	}
}

// testRace: a competing write lands between the read and the write. The conditional write
// must be refused (the competitor's object is not overwritten blindly), and the publisher
// re-reads, re-plans from what the competitor wrote, and then publishes.
func testRace(t *testing.T, s store) {
	ctx := context.Background()
	tg, _ := freshTarget(t, s)
	if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
		t.Fatal(err)
	}
	var attempts []int
	p, err := publishTo(ctx, tg, publishtest.Keys(t, 1, 2), t0.Add(time.Hour), func(p *publish.Plan, attempt int) {
		attempts = append(attempts, attempt)
		if attempt == 1 {
			// Same keys, other bytes and another Cache-Control: a new revision. (The bytes
			// must differ: an S3 ETag is the body's MD5, so a header-only rewrite keeps it.)
			compete(t, tg, append(encoded(t, publishtest.Keys(t, 1)), '\n'), "public, max-age=5")
		}
	})
	if err != nil {
		t.Fatalf("publish after one lost race: %v", err)
	}
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Fatalf("attempts %v, want a re-plan after the precondition failure", attempts)
	}
	// The second plan was made from the competitor's object: it saw its Cache-Control.
	if len(p.Headers) != 1 || p.Headers[0].Old != "public, max-age=5" {
		t.Errorf("re-plan did not read the competing write: headers %+v", p.Headers)
	}
	body, a := liveDoc(t, tg)
	if !bytes.Equal(body, encoded(t, publishtest.Keys(t, 1, 2))) || a.CacheControl != "public, max-age=60" {
		t.Errorf("after the retry: %s, Cache-Control %q", body, a.CacheControl)
	}
}

// testLostTwice: a competitor wins both times; the publisher gives up with ErrConflict and
// the competitor's object stays as written.
func testLostTwice(t *testing.T, s store) {
	ctx := context.Background()
	tg, _ := freshTarget(t, s)
	if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
		t.Fatal(err)
	}
	var theirs []byte
	_, err := publishTo(ctx, tg, publishtest.Keys(t, 1, 2), t0.Add(time.Hour), func(p *publish.Plan, attempt int) {
		theirs = append(encoded(t, publishtest.Keys(t, 1)), bytes.Repeat([]byte{'\n'}, attempt)...)
		compete(t, tg, theirs, fmt.Sprintf("public, max-age=%d", attempt))
	})
	if !errors.Is(err, target.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	body, a := liveDoc(t, tg)
	if !bytes.Equal(body, theirs) || a.CacheControl != "public, max-age=2" {
		t.Errorf("the competitor's object was overwritten: %s, Cache-Control %q", body, a.CacheControl)
	}
}

// testFirstCreateRace: two publishers both see an empty bucket; the loser's create-only write
// is refused, its re-plan sees the winner's key would be removed, and the guard refuses.
func testFirstCreateRace(t *testing.T, s store) {
	ctx := context.Background()
	tg, _ := freshTarget(t, s)
	other := openTarget(t, tg.URL)
	_, err := publishTo(ctx, tg, publishtest.Keys(t, 2), t0, func(p *publish.Plan, attempt int) {
		if attempt == 1 {
			if _, err := publishTo(ctx, other, publishtest.Keys(t, 1), t0, nil); err != nil {
				t.Errorf("competing first publish: %v", err)
			}
		}
	})
	var ge *publish.GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("got %v, want the guard to refuse removing the winner's key", err)
	}
	body, _ := liveDoc(t, tg)
	if !bytes.Equal(body, encoded(t, publishtest.Keys(t, 1))) {
		t.Errorf("the first publisher's document was overwritten: %s", body)
	}
}

// TestStoreConformance runs the two suites every target passes (the directory target runs them
// in its unit tests, the image target against the registry) against the three real stores.
func TestStoreConformance(t *testing.T) {
	for _, s := range stores(t) {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			t.Run("publication", func(t *testing.T) {
				publishtest.TargetConformance(t, func(t *testing.T) publish.Destination {
					tg, _ := freshTarget(t, s)
					return tg.Destination
				})
			})
			// The target contract: revisions, conflicts, N racing publishers, writes stopped at
			// every write point. Each handle is its own client, as separate publishers' are.
			t.Run("contract", func(t *testing.T) {
				targettest.Run(t, targettest.Harness{
					Fresh: func(t *testing.T) func(onWrite func(point string)) target.Target {
						_, name := freshTarget(t, s)
						return func(onWrite func(point string)) target.Target {
							tg := openTarget(t, s.targetURL(name))
							bt, err := targetblob.New(tg.URL, tg.Bucket, tg.key, targetblob.Options{OnWrite: onWrite})
							if err != nil {
								t.Fatal(err)
							}
							return bt
						}
					},
				})
			})
		})
	}
}

// TestMissingBucket: a bucket that does not exist is an error naming it, with the fix, on
// every read; never "nothing is live yet", which would plan a first publication.
func TestMissingBucket(t *testing.T) {
	for _, s := range stores(t) {
		t.Run(s.name, func(t *testing.T) {
			tg := openTarget(t, s.targetURL("jwkspub-missing-bucket-x"))
			_, err := tg.Target.Read(context.Background())
			if err == nil || !strings.Contains(err.Error(), `"jwkspub-missing-bucket-x" does not exist`) || !strings.Contains(err.Error(), "fix: create it") {
				t.Errorf("reading a missing bucket: %v", err)
			}
		})
	}
}
