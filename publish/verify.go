package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/sources"
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

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Policy is the policy the document must satisfy, usually its set's.
	Policy Policy
	// Now is the time certificates are checked against. Zero means do not check validity.
	Now time.Time
}

// Verify checks an existing JWK Set document against the policy with the same rules build
// applies (Assemble), and also refuses private members and keys that cannot be parsed. Every
// problem is reported at once in a *PolicyError. A document that is not a JSON object at all is
// an ordinary error. On success the returned set holds the document's keys, sorted by kid;
// keys that carry no kid, alg or use get a warning, since build always writes them.
func Verify(doc []byte, origin sources.Origin, opts VerifyOptions) (*Set, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%s: not a JSON object: %w", origin, err)
	}
	var (
		violations []Violation
		warnings   []string
		keys       []sources.Key
	)
	bad := func(at sources.Origin, key, rule, detail, fix string) {
		violations = append(violations, Violation{Origin: at, Key: key, Rule: rule, Detail: detail, Fix: fix})
	}
	rawKeys, ok := top["keys"]
	var elems []json.RawMessage
	if !ok {
		bad(origin, "", "jwks", `the document has no "keys" member; it is not a JWK Set`, `publish {"keys": [...]} (RFC 7517 §5)`)
	} else if err := json.Unmarshal(rawKeys, &elems); err != nil {
		bad(origin, "", "jwks", `"keys" is not an array`, `publish {"keys": [...]} (RFC 7517 §5)`)
	}
	for name := range top {
		if name != "keys" {
			warnings = append(warnings, fmt.Sprintf("%s: top-level member %q is not part of a JWK Set jwkspub writes", origin, name))
		}
	}
	missing := make([][]string, 0, len(elems))
	for i, raw := range elems {
		at := origin
		at.Location = strings.TrimSpace(origin.Location + fmt.Sprintf(" key %d", i+1))
		lbl := "" // the origin names the key's index
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			bad(at, lbl, "jwk", "not a JSON object", `every element of "keys" must be a JWK object`)
			continue
		}
		// A key with private members is still checked against every other rule; Assemble
		// refuses the members by name.
		ks, err := sources.ParseJWK(raw, at, sources.Options{ReportPrivate: true})
		if err != nil {
			var se *sources.Error
			detail, fix := err.Error(), "correct the JWK (RFC 7517, RFC 7518 §6)"
			if errors.As(err, &se) {
				detail, fix = se.Err.Error(), se.Fix
			}
			if kid, ok := stringMember(m, "kid"); ok && kid != "" {
				lbl = fmt.Sprintf("kid %q", kid)
			}
			bad(at, lbl, "jwk", detail, fix)
			continue
		}
		k := ks[0]
		var absent []string
		for _, name := range []string{"kid", "alg", "use"} {
			if _, ok := m[name]; !ok {
				absent = append(absent, name)
			}
		}
		missing = append(missing, absent)
		keys = append(keys, k)
	}
	set, err := Assemble(keys, AssembleOptions{Policy: opts.Policy, KID: KIDKeepOrThumbprint, Now: opts.Now})
	var pe *PolicyError
	if errors.As(err, &pe) {
		vs := pe.Violations
		if len(violations) > 0 {
			vs = dropRules(vs, "empty-set") // already explained by the keys that failed to parse
		}
		violations = append(violations, vs...)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	if len(violations) > 0 {
		return nil, &PolicyError{Violations: violations}
	}
	for i, k := range keys {
		if len(missing[i]) > 0 {
			at := k.Origin.String() // names the key's index in the document
			if k.KID != "" {
				at += ": " + label(k.KID, i)
			}
			warnings = append(warnings, fmt.Sprintf("%s: no %s member; verifiers may not select or accept this key", at, strings.Join(missing[i], ", ")))
		}
	}
	set.Warnings = append(warnings, set.Warnings...)
	return set, nil
}

func stringMember(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
