package served

import (
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/target"

	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Drift is how the document served at a URL differs from the expected one.
type Drift struct {
	URL string `json:"url"`
	// Error is why the document could not be fetched (not served, not 200, ...).
	Error string `json:"error,omitempty"`
	// BodyDiffers is set when the served bytes are not the expected bytes.
	BodyDiffers bool `json:"body_differs"`
	// Missing are expected kids the document lacks; Unexpected are served kids the sources do
	// not give. Both empty with BodyDiffers set means the same kids with other bytes (other
	// material, alg, members, or formatting).
	Missing    []string `json:"missing_kids,omitempty"`
	Unexpected []string `json:"unexpected_kids,omitempty"`
	// NotJWKS is set when the served body is not a JWK Set at all (an error page, say).
	NotJWKS bool `json:"not_jwks,omitempty"`
	// Headers are the differing headers: Old is what is served, New what is expected.
	Headers []HeaderChange `json:"headers,omitempty"`

	fetchErr error // see FetchFailed
}

// FetchFailed returns why the document could not be fetched, when that is not drift: a
// refusal (401, 403: a private bucket's own URL), a server error, no connection. Only
// "nothing served there" (404, 410) compares as drift, a document missing where it should be.
func (d *Drift) FetchFailed() error { return d.fetchErr }

// Drifted reports whether the served document differs from the expected one in any way.
func (d *Drift) Drifted() bool {
	return d.Error != "" || d.BodyDiffers || len(d.Headers) > 0
}

// String describes the drift in one line.
func (d *Drift) String() string {
	if d.Error != "" {
		return fmt.Sprintf("%s: %s", d.URL, d.Error)
	}
	if !d.Drifted() {
		return fmt.Sprintf("%s: serves what the sources give", d.URL)
	}
	var parts []string
	if d.BodyDiffers {
		switch {
		case d.NotJWKS:
			parts = append(parts, "the body is not a JWK Set")
		case len(d.Missing) > 0 || len(d.Unexpected) > 0:
			if len(d.Missing) > 0 {
				parts = append(parts, "missing kids "+strings.Join(d.Missing, ", "))
			}
			if len(d.Unexpected) > 0 {
				parts = append(parts, "unexpected kids "+strings.Join(d.Unexpected, ", "))
			}
		default:
			parts = append(parts, "same kids, different bytes")
		}
	}
	for _, h := range d.Headers {
		parts = append(parts, fmt.Sprintf("%s is %q, want %q", h.Name, h.Old, h.New))
	}
	return fmt.Sprintf("%s has drifted: %s", d.URL, strings.Join(parts, "; "))
}

// CheckDrift fetches rawURL (which must pass CheckFetchURL, as must every redirect) and
// compares it with want: the exact bytes, Cache-Control, and Content-Type's media type. A
// failed fetch sets Drift.Error, and is drift only when nothing is served there (404, 410);
// any other failure is also returned by FetchFailed, for the caller to report as an error.
func CheckDrift(ctx context.Context, client *http.Client, rawURL string, want *target.Object) *Drift {
	d := &Drift{URL: rawURL}
	body, h, err := fetchOK(ctx, client, rawURL, nil)
	if err != nil {
		d.Error = err.Error()
		var se *StatusError
		if !errors.As(err, &se) || !se.notServed() {
			d.fetchErr = err
		}
		return d
	}
	if !bytes.Equal(body, want.Body) {
		d.BodyDiffers = true
		var ok bool
		d.Missing, d.Unexpected, ok = kidDiff(want.Body, body)
		d.NotJWKS = !ok
	}
	if got := h.Get("Cache-Control"); got != want.CacheControl {
		d.Headers = append(d.Headers, HeaderChange{Name: "Cache-Control", Old: got, New: want.CacheControl})
	}
	got := h.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(got); err == nil {
		got = mt // a charset parameter is not drift
	}
	if got != want.ContentType {
		d.Headers = append(d.Headers, HeaderChange{Name: "Content-Type", Old: got, New: want.ContentType})
	}
	return d
}

// kidDiff lists the kids of want that served lacks and the kids of served that want lacks.
// ok is false when served is not a JWK Set ParseLive reads.
func kidDiff(want, served []byte) (missing, unexpected []string, ok bool) {
	w, err1 := jwks.ParseLive(want)
	s, err2 := jwks.ParseLive(served)
	if err1 != nil || err2 != nil {
		return nil, nil, false
	}
	kids := func(ks []jwks.LiveKey) []string {
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = k.KID
		}
		return out
	}
	wk, sk := kids(w), kids(s)
	for _, k := range wk {
		if !slices.Contains(sk, k) {
			missing = append(missing, k)
		}
	}
	for _, k := range sk {
		if !slices.Contains(wk, k) {
			unexpected = append(unexpected, k)
		}
	}
	return missing, unexpected, true
}

// WaitOptions configure WaitNoDrift.
type WaitOptions struct {
	// Wait is how long to keep polling; zero checks once.
	Wait time.Duration
	// Interval is the pause between checks (default 10s).
	Interval time.Duration
	// Logger gets one line per check that still sees drift; nil discards.
	Logger *slog.Logger
}

// WaitNoDrift checks rawURL until it serves want or o.Wait has passed (a CDN takes up to its
// TTL to pick up a new document), and returns the last check's result. It stops early when
// ctx is done.
func WaitNoDrift(ctx context.Context, client *http.Client, rawURL string, want *target.Object, o WaitOptions) *Drift {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	interval := o.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	deadline := time.Now().Add(o.Wait)
	for {
		d := CheckDrift(ctx, client, rawURL, want)
		if !d.Drifted() {
			return d
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return d
		}
		logger.Info("still drifted; checking again", "url", rawURL, "drift", d.String(), "in", min(interval, left).String())
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return d
		case <-t.C:
		}
	}
}

// HeaderChange is a changed header of the JWKS.
type HeaderChange struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}
