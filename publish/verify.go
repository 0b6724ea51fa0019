package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// MaxDocumentSize bounds what Fetch reads: a JWK Set of ten thousand RSA keys is about 4 MB.
const MaxDocumentSize = 16 << 20

// ErrInsecureURL is wrapped by refusals of URLs a JWKS must not be read from: anything but
// https, except plain http to a loopback address (a local test server).
var ErrInsecureURL = errors.New("insecure JWKS URL")

// CheckFetchURL reports whether a JWKS may be read from raw: https, or http to a loopback
// address. A JWKS fetched over plain http can be swapped by anyone on the path, and a
// verifier would then trust the attacker's keys.
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("JWKS URL %q: no host", raw)
		}
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: %q is plain http to a non-loopback host; a JWKS must come over TLS (use https://)", ErrInsecureURL, raw)
	}
	return fmt.Errorf("%w: %q: scheme %q is not https", ErrInsecureURL, raw, u.Scheme)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Fetch reads the JWKS document at rawURL with client (nil means http.DefaultClient). The
// URL must pass CheckFetchURL, and so must every redirect; the status must be 200 and the body
// at most MaxDocumentSize bytes.
func Fetch(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
	body, _, err := fetch(ctx, client, rawURL)
	return body, err
}

// CheckCORS fetches rawURL as a browser script on origin would, with an Origin header, and
// requires the answer to allow that origin (Access-Control-Allow-Origin "*" or origin).
// Object stores send the header only when the request has an Origin and the bucket has a CORS
// configuration that matches it, so a plain fetch cannot tell.
func CheckCORS(ctx context.Context, client *http.Client, rawURL, origin string) error {
	_, h, err := fetchWith(ctx, client, rawURL, http.Header{"Origin": {origin}})
	if err != nil {
		return err
	}
	switch allow := h.Get("Access-Control-Allow-Origin"); allow {
	case "*", origin:
		return nil
	case "":
		return fmt.Errorf("%s: CORS: no Access-Control-Allow-Origin for Origin %s, so browser clients on that origin cannot read the JWKS (fix: add a CORS rule allowing GET from %s to the bucket or CDN; see the README)", rawURL, origin, origin)
	default:
		return fmt.Errorf("%s: CORS: Access-Control-Allow-Origin is %q, not %s (fix: allow GET from %s in the bucket's or CDN's CORS rules)", rawURL, allow, origin, origin)
	}
}

// fetch is Fetch, also returning the response headers (drift checks compare them).
func fetch(ctx context.Context, client *http.Client, rawURL string) ([]byte, http.Header, error) {
	return fetchWith(ctx, client, rawURL, nil)
}

// fetchWith is fetch with extra request headers.
func fetchWith(ctx context.Context, client *http.Client, rawURL string, extra http.Header) ([]byte, http.Header, error) {
	if err := CheckFetchURL(rawURL); err != nil {
		return nil, nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	// A copy, so that the caller's client is not changed: redirects obey the same rule as the
	// first URL, or an https URL could hand the fetch over to plain http.
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
		return nil, nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetching %s: status %s", rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetching %s: reading body: %w", rawURL, err)
	}
	if len(body) > MaxDocumentSize {
		return nil, nil, fmt.Errorf("fetching %s: document larger than %d bytes", rawURL, MaxDocumentSize)
	}
	return body, resp.Header, nil
}
