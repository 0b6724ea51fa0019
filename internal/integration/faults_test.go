//go:build integration

package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/publishtest"
)

// storeProxy sits between the publisher and MinIO: it counts requests, and injects faults.
// It forwards the Host header unchanged, so S3 signatures made for the proxy's address stay
// valid at MinIO.
type storeProxy struct {
	upstream *url.URL
	srv      *httptest.Server

	mu     sync.Mutex
	fault  func(w http.ResponseWriter, r *http.Request) bool // true: handled, do not forward
	counts map[string]int                                    // by method
}

func newStoreProxy(t *testing.T, upstream string) *storeProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &storeProxy{upstream: u, counts: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *storeProxy) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// take returns the request counts since the last call and resets them.
func (p *storeProxy) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[string]int{}
	return c
}

func (p *storeProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.counts[r.Method]++
	fault := p.fault
	p.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// proxiedTarget is the same bucket as tg, reached through the proxy.
func proxiedTarget(t *testing.T, p *storeProxy, bucket string) *storeTarget {
	t.Helper()
	return openTarget(t, s3URL(p.srv.URL, bucket))
}

func TestS3Faults(t *testing.T) {
	s3end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
	ctx := context.Background()
	s := stores(t)[0]
	direct, bucket := freshTarget(t, s)
	if _, err := publishTo(ctx, direct, publishtest.Keys(t, 1), t0, nil); err != nil {
		t.Fatal(err)
	}
	wantBody, wantAttrs := liveDoc(t, direct)
	px := newStoreProxy(t, s3end)

	for _, tc := range []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request) bool
		// timeout bounds the publish, for the hang.
		timeout time.Duration
	}{
		{"503 on every request", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
			return true
		}, 0},
		{"503 on writes", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut {
				return false
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`)
			return true
		}, 0},
		{"hang on write", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut {
				return false
			}
			// Take the body, then never answer. Once the body is read the server notices the
			// client giving up; the bound keeps a broken client from hanging the suite.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Second):
			}
			return true
		}, 3 * time.Second},
		{"reset mid-body of the upload", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPut {
				return false
			}
			_, _ = io.CopyN(io.Discard, r.Body, 64)
			panic(http.ErrAbortHandler) // closes the connection mid-request
		}, 0},
		{"reset mid-body of the read", func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/"+jwksKey) {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "4096")
			w.Header().Set("ETag", `"0123"`)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"keys":[{"kty":"OKP",`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px.setFault(tc.fault)
			defer px.setFault(nil)
			tg := proxiedTarget(t, px, bucket)
			c := ctx
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			_, err := publishTo(c, tg, publishtest.Keys(t, 1, 2), t0.Add(time.Hour), nil)
			if err == nil {
				t.Fatal("publish through the faulty store succeeded")
			}
			if !strings.Contains(err.Error(), "target "+tg.URL) {
				t.Errorf("error does not name the target: %v", err)
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			body, a := liveDoc(t, direct)
			if !bytes.Equal(body, wantBody) || a.ETag != wantAttrs.ETag {
				t.Errorf("live object changed: ETag %s -> %s", wantAttrs.ETag, a.ETag)
			}
		})
	}
}

// TestS3RequestCounts counts the requests one publish makes at the store, per target: each
// managed object (JWKS, discovery document, state) is read once; a changed object is written
// once and read back once; an unchanged publish writes nothing.
func TestS3RequestCounts(t *testing.T) {
	s3end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
	ctx := context.Background()
	_, bucket := freshTarget(t, stores(t)[0])
	px := newStoreProxy(t, s3end)
	tg := proxiedTarget(t, px, bucket)
	for _, step := range []struct {
		name string
		keys *jwks.Set
		want map[string]int
	}{
		// 3 reads (all absent), JWKS and state written, then the target read back whole (3 GETs:
		// the read-back is the target's own Read, so it sees exactly what the next run will).
		{"first", publishtest.Keys(t, 1), map[string]int{"GET": 3 + 3, "PUT": 2}},
		{"unchanged", publishtest.Keys(t, 1), map[string]int{"GET": 3}},
		{"rotation", publishtest.Keys(t, 1, 2), map[string]int{"GET": 3 + 3, "PUT": 2}},
	} {
		px.take()
		if _, err := publishTo(ctx, tg, step.keys, t0.Add(time.Hour), nil); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := px.take()
		if len(got) != len(step.want) || got["GET"] != step.want["GET"] || got["PUT"] != step.want["PUT"] {
			t.Errorf("%s publish: requests %v, want %v", step.name, got, step.want)
		}
	}
}
