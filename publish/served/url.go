package served

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// MaxDocumentSize bounds what the fetcher reads: a JWK Set of ten thousand RSA keys is about
// 4 MB.
const MaxDocumentSize = 16 << 20

// ErrInsecureURL is wrapped by refusals of URLs a JWKS must not be read from: anything but
// https, except plain http to a loopback address (a local test server).
var ErrInsecureURL = errors.New("insecure JWKS URL")

// urlProblem is what the one rule finds wrong with a URL verifiers fetch from.
type urlProblem int

const (
	urlOK        urlProblem = iota
	urlNoHost               // no host to fetch from
	urlPlainHTTP            // http to a host that is not loopback
	urlNotHTTPS             // another scheme
)

// checkServedURL is the one rule for every URL a JWKS or a discovery document is served from
// or fetched at (a public URL, an issuer, a redirect): https with a host, or plain http to a
// loopback host. Plain http anywhere else lets anyone on the path swap the keys verifiers
// trust. The callers word the refusal for their context; the rule is this one.
func checkServedURL(u *url.URL) urlProblem {
	switch {
	case u.Host == "":
		return urlNoHost
	case u.Scheme == "https":
		return urlOK
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return urlOK
	case u.Scheme == "http":
		return urlPlainHTTP
	}
	return urlNotHTTPS
}

// IsLoopback reports whether host (a URL's Hostname) is the name localhost or a loopback IP
// address: all of 127.0.0.0/8 and ::1, as net.IP.IsLoopback says.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckFetchURL reports whether a JWKS may be read from raw: https, or http to a loopback
// address. A JWKS fetched over plain http can be swapped by anyone on the path, and a
// verifier would then trust the attacker's keys.
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL %q: %w", raw, err)
	}
	switch checkServedURL(u) {
	case urlOK:
		return nil
	case urlNoHost:
		if u.Scheme == "https" {
			return fmt.Errorf("JWKS URL %q: no host", raw)
		}
	}
	if u.Scheme == "http" {
		return fmt.Errorf("%w: %q is plain http to a non-loopback host; a JWKS must come over TLS (use https://)", ErrInsecureURL, raw)
	}
	return fmt.Errorf("%w: %q: scheme %q is not https", ErrInsecureURL, raw, u.Scheme)
}

// CheckPublicURL accepts https URLs, and plain http only on a loopback address (tests, a
// local nginx): a JWKS compared over plain http could have been altered on the way.
func CheckPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	switch checkServedURL(u) {
	case urlOK:
		return nil
	case urlNoHost:
		return fmt.Errorf("%q has no host", raw)
	case urlPlainHTTP:
		return fmt.Errorf("%q: plain http is accepted only on loopback; use https", raw)
	}
	return fmt.Errorf("%q: use an https URL", raw)
}

// ValidateIssuer checks an OIDC issuer: https, no query or fragment (OpenID Connect
// Discovery §3); plain http only on loopback, for tests.
func ValidateIssuer(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if checkServedURL(u) != urlOK {
		return fmt.Errorf("%q must be an https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return nil
}
