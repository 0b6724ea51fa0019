//go:build integration

package integration

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"cloud.google.com/go/storage"

	"github.com/jwkspub/jwkspub/publish/publishtest"
)

// public_read is off by default and, when set, grants anonymous read per object: on GCS the
// stored ACL shows allUsers as reader; on S3 the upload carries the canned ACL (MinIO takes
// the header and keeps access to bucket policies, so the request is what is checked).
func TestPublicRead(t *testing.T) {
	ctx := context.Background()
	t.Run("gs", func(t *testing.T) {
		s := stores(t)[1]
		for _, public := range []bool{false, true} {
			tg, name := freshTarget(t, s)
			tg.setPublicRead(t, public)
			if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
				t.Fatal(err)
			}
			var c *storage.Client
			if !tg.Bucket.As(&c) {
				t.Fatal("no *storage.Client")
			}
			rules, err := c.Bucket(name).Object(jwksKey).ACL().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			anyone := false
			for _, r := range rules {
				anyone = anyone || r.Entity == storage.AllUsers && r.Role == storage.RoleReader
			}
			if anyone != public {
				t.Errorf("public_read %v: ACL %+v", public, rules)
			}
		}
	})
	t.Run("s3", func(t *testing.T) {
		s3end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
		for _, public := range []bool{false, true} {
			_, bucket := freshTarget(t, stores(t)[0])
			px := newStoreProxy(t, s3end)
			var mu sync.Mutex
			var acls []string
			px.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPut {
					mu.Lock()
					acls = append(acls, r.Header.Get("X-Amz-Acl"))
					mu.Unlock()
				}
				return false
			})
			tg := proxiedTarget(t, px, bucket)
			tg.setPublicRead(t, public)
			if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
				t.Fatal(err)
			}
			want := ""
			if public {
				want = "public-read"
			}
			if len(acls) == 0 {
				t.Fatal("no upload seen")
			}
			for _, a := range acls {
				if a != want {
					t.Errorf("public_read %v: upload with x-amz-acl %q, want %q", public, a, want)
				}
			}
		}
	})
}
