package served

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/target"
)

// served is what a fault-injecting server answers: a document and its headers.
type served struct {
	status       int
	body         []byte
	cacheControl string
	contentType  string
}

func serve(t *testing.T, answer func(n int) served) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer(int(n.Add(1)))
		if a.cacheControl != "" {
			w.Header().Set("Cache-Control", a.cacheControl)
		}
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		if a.status != 0 {
			w.WriteHeader(a.status)
		}
		w.Write(a.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// expected is the JWKS object publish would write for set: the encoded document with the
// given Cache-Control (publish's default when empty) and Content-Type application/json.
func expected(t *testing.T, set *jwks.Set, cacheControl string) *target.Object {
	t.Helper()
	body, err := jwks.Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	if cacheControl == "" {
		cacheControl = "public, max-age=900"
	}
	return &target.Object{Name: "jwks", Body: body, CacheControl: cacheControl, ContentType: "application/json"}
}

func edKeys(t testing.TB, seeds ...byte) *jwks.Set { return testkeys.Thumbprinted(t, seeds...) }

func TestCheckDrift(t *testing.T) {
	want := expected(t, edKeys(t, 1, 2), "")
	oldDoc, err := jwks.Encode(edKeys(t, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	otherDoc, err := jwks.Encode(edKeys(t, 2, 3), false)
	if err != nil {
		t.Fatal(err)
	}
	prettyDoc, err := jwks.Encode(edKeys(t, 1, 2), true)
	if err != nil {
		t.Fatal(err)
	}
	kids := func(s *jwks.Set) []string {
		var out []string
		for _, k := range s.Keys {
			out = append(out, k.KID)
		}
		return out
	}
	k1, k2, k3 := kids(edKeys(t, 1))[0], kids(edKeys(t, 2))[0], kids(edKeys(t, 3))[0]
	good := served{body: want.Body, cacheControl: want.CacheControl, contentType: want.ContentType}

	tests := []struct {
		name        string
		answer      served
		drift       bool
		wantMissing []string
		wantExtra   []string
		wantHeaders []string
		wantInText  string
	}{
		{name: "serves exactly what the sources give", answer: good},
		{name: "charset parameter is not drift", answer: served{body: want.Body, cacheControl: want.CacheControl, contentType: "application/json; charset=utf-8"}},
		{name: "old document: the new key is missing", answer: served{body: oldDoc, cacheControl: want.CacheControl, contentType: want.ContentType},
			drift: true, wantMissing: []string{k2}, wantInText: "missing kids " + k2},
		{name: "other keys: missing and unexpected", answer: served{body: otherDoc, cacheControl: want.CacheControl, contentType: want.ContentType},
			drift: true, wantMissing: []string{k1}, wantExtra: []string{k3}},
		{name: "same keys, other bytes", answer: served{body: prettyDoc, cacheControl: want.CacheControl, contentType: want.ContentType},
			drift: true, wantInText: "same kids, different bytes"},
		{name: "a CDN rewrote Cache-Control", answer: served{body: want.Body, cacheControl: "max-age=86400", contentType: want.ContentType},
			drift: true, wantHeaders: []string{"Cache-Control"}, wantInText: `Cache-Control is "max-age=86400", want "public, max-age=900"`},
		{name: "wrong content type", answer: served{body: want.Body, cacheControl: want.CacheControl, contentType: "text/plain"},
			drift: true, wantHeaders: []string{"Content-Type"}},
		{name: "not served at all", answer: served{status: http.StatusNotFound, body: []byte("no")},
			drift: true, wantInText: "404"},
		{name: "not a JWK Set", answer: served{body: []byte("<html>"), cacheControl: want.CacheControl, contentType: want.ContentType},
			drift: true, wantInText: "the body is not a JWK Set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(int) served { return tt.answer })
			d := CheckDrift(context.Background(), srv.Client(), srv.URL+"/.well-known/jwks.json", want)
			if d.Drifted() != tt.drift {
				t.Fatalf("drifted = %v, want %v: %s", d.Drifted(), tt.drift, d)
			}
			if !slices.Equal(d.Missing, tt.wantMissing) || !slices.Equal(d.Unexpected, tt.wantExtra) {
				t.Errorf("missing %v unexpected %v, want %v %v", d.Missing, d.Unexpected, tt.wantMissing, tt.wantExtra)
			}
			var hs []string
			for _, h := range d.Headers {
				hs = append(hs, h.Name)
			}
			if !slices.Equal(hs, tt.wantHeaders) {
				t.Errorf("headers %v, want %v", hs, tt.wantHeaders)
			}
			if !strings.Contains(d.String(), tt.wantInText) {
				t.Errorf("%q does not say %q", d.String(), tt.wantInText)
			}
		})
	}

	t.Run("plain http off loopback is refused, not fetched", func(t *testing.T) {
		d := CheckDrift(context.Background(), http.DefaultClient, "http://jwks.example.com/jwks.json", want)
		if !d.Drifted() || !strings.Contains(d.Error, "https") {
			t.Fatalf("drift = %s", d)
		}
	})
}

func TestWaitNoDrift(t *testing.T) {
	want := expected(t, edKeys(t, 1, 2), "public, max-age=60")
	oldDoc, err := jwks.Encode(edKeys(t, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	stale := served{body: oldDoc, cacheControl: want.CacheControl, contentType: want.ContentType}
	fresh := served{body: want.Body, cacheControl: want.CacheControl, contentType: want.ContentType}

	t.Run("the CDN catches up within the wait", func(t *testing.T) {
		var calls atomic.Int32
		srv := serve(t, func(n int) served {
			calls.Store(int32(n))
			if n < 3 {
				return stale
			}
			return fresh
		})
		d := WaitNoDrift(context.Background(), srv.Client(), srv.URL, want, WaitOptions{Wait: 10 * time.Second, Interval: 10 * time.Millisecond})
		if d.Drifted() {
			t.Fatalf("still drifted: %s", d)
		}
		if calls.Load() != 3 {
			t.Errorf("%d checks, want 3 (two stale, one fresh)", calls.Load())
		}
	})
	t.Run("the wait is bounded", func(t *testing.T) {
		srv := serve(t, func(int) served { return stale })
		start := time.Now()
		d := WaitNoDrift(context.Background(), srv.Client(), srv.URL, want, WaitOptions{Wait: 200 * time.Millisecond, Interval: 50 * time.Millisecond})
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("waited %v for a 200ms bound", el)
		}
		if !d.Drifted() || len(d.Missing) != 1 {
			t.Errorf("drift = %s, want the missing key", d)
		}
	})
	t.Run("no wait checks once", func(t *testing.T) {
		var calls atomic.Int32
		srv := serve(t, func(n int) served { calls.Store(int32(n)); return stale })
		WaitNoDrift(context.Background(), srv.Client(), srv.URL, want, WaitOptions{Interval: time.Millisecond})
		if calls.Load() != 1 {
			t.Errorf("%d checks, want 1", calls.Load())
		}
	})
	t.Run("a cancelled context stops the wait", func(t *testing.T) {
		srv := serve(t, func(int) served { return stale })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		d := WaitNoDrift(ctx, srv.Client(), srv.URL, want, WaitOptions{Wait: time.Hour, Interval: 20 * time.Millisecond})
		if time.Since(start) > 5*time.Second || !d.Drifted() {
			t.Errorf("after %v: %s", time.Since(start), d)
		}
	})
}

// TestCheckDriftFetchFailed: only "nothing served" (404, 410) compares as drift; a refusal
// (a private bucket's 403), a server error or no connection is a fetch failure, with the status
// and, for 401 and 403, the hint.
func TestCheckDriftFetchFailed(t *testing.T) {
	want := expected(t, edKeys(t, 1), "")
	for _, tc := range []struct {
		status  int
		failed  string // "" when it is drift, not a failure
		drifted bool
	}{
		{status: http.StatusNotFound, drifted: true},
		{status: http.StatusGone, drifted: true},
		{status: http.StatusForbidden, failed: "status 403 Forbidden (verifiers fetch without credentials; fix: verify the URL verifiers use", drifted: true},
		{status: http.StatusUnauthorized, failed: "status 401 Unauthorized (verifiers fetch without credentials", drifted: true},
		{status: http.StatusBadGateway, failed: "status 502 Bad Gateway", drifted: true},
	} {
		srv := serve(t, func(int) served { return served{status: tc.status} })
		d := CheckDrift(context.Background(), srv.Client(), srv.URL+"/jwks.json", want)
		err := d.FetchFailed()
		switch {
		case tc.failed == "" && err != nil:
			t.Errorf("%d: FetchFailed = %v, want drift", tc.status, err)
		case tc.failed != "" && (err == nil || !strings.Contains(err.Error(), tc.failed)):
			t.Errorf("%d: FetchFailed = %v, want %q", tc.status, err, tc.failed)
		}
		if d.Drifted() != tc.drifted {
			t.Errorf("%d: Drifted = %v", tc.status, d.Drifted())
		}
		if tc.status != http.StatusForbidden && tc.status != http.StatusUnauthorized && strings.Contains(d.Error, "fix:") {
			t.Errorf("%d: hint given: %s", tc.status, d.Error)
		}
	}
	// No connection at all.
	srv := serve(t, func(int) served { return served{} })
	u := srv.URL
	srv.Close()
	if d := CheckDrift(context.Background(), nil, u+"/jwks.json", want); d.FetchFailed() == nil {
		t.Errorf("refused connection: not a fetch failure: %+v", d)
	}
}
