package served

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Response is what Get received: the status, the headers, and for a 200 the body.
type Response struct {
	StatusCode int
	Status     string
	Header     http.Header
	// Body is read only for status 200, and then holds at most MaxDocumentSize bytes.
	Body []byte
}

// Get is the one fetcher of served documents. It GETs rawURL with client (nil means
// http.DefaultClient) asking for a JWK Set, plus the extra request headers. The URL must pass
// CheckFetchURL, and so must every redirect (or an https URL could hand the fetch over to
// plain http); at most 10 redirects are followed, unless client's own CheckRedirect decides.
// A 200 body larger than MaxDocumentSize is an error. Any other status is returned, not an
// error: a caller may read 404 as "nothing published yet".
func Get(ctx context.Context, client *http.Client, rawURL string, extra http.Header) (*Response, error) {
	if err := CheckFetchURL(rawURL); err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	// A copy, so that the caller's client is not changed.
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckFetchURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	out := &Response{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		return out, nil
	}
	out.Body, err = io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: reading body: %w", rawURL, err)
	}
	if len(out.Body) > MaxDocumentSize {
		return nil, fmt.Errorf("fetching %s: document larger than %d bytes", rawURL, MaxDocumentSize)
	}
	return out, nil
}

// Fetch reads the JWKS document at rawURL with client (nil means http.DefaultClient): Get,
// and any status but 200 is an error.
func Fetch(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
	body, _, err := fetchOK(ctx, client, rawURL, nil)
	return body, err
}

// fetchOK is Get requiring status 200, also returning the response headers (drift checks
// compare them).
func fetchOK(ctx context.Context, client *http.Client, rawURL string, extra http.Header) ([]byte, http.Header, error) {
	resp, err := Get(ctx, client, rawURL, extra)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &StatusError{URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return resp.Body, resp.Header, nil
}

// StatusError is a fetch answered with a status other than 200.
type StatusError struct {
	URL        string
	StatusCode int
	// Status is the status line's text, "403 Forbidden".
	Status string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("fetching %s: status %s", e.URL, e.Status)
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		// The usual cause: a private bucket's own URL, which answers 403 to anyone without
		// credentials, as it does to every verifier.
		msg += " (verifiers fetch without credentials; fix: verify the URL verifiers use (the CDN's), or let anonymous clients read this object, e.g. a bucket policy granting s3:GetObject on it)"
	}
	return msg
}

// notServed reports whether the status says there is no document at the URL (yet): drift,
// where any other failure to fetch is an error of its own.
func (e *StatusError) notServed() bool {
	return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
}
