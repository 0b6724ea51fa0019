package served

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/jwkspub/jwkspub/internal/httpsrule"
)

// MaxDocumentSize bounds what the fetcher reads: a JWK Set of ten thousand RSA keys is about
// 4 MB.
const MaxDocumentSize = 16 << 20

// ErrInsecureURL is wrapped by refusals of URLs a JWKS must not be read from: anything but
// https, except plain http to a loopback address (a local test server).
var ErrInsecureURL = errors.New("insecure JWKS URL")

// IsLoopback reports whether host (a URL's Hostname) is the name localhost or a loopback IP
// address: all of 127.0.0.0/8 and ::1, as net.IP.IsLoopback says.
func IsLoopback(host string) bool { return httpsrule.IsLoopback(host) }

// CheckFetchURL reports whether a JWKS may be read from raw: https, or http to a loopback
// address. A JWKS fetched over plain http can be swapped by anyone on the path, and a
// verifier would then trust the attacker's keys.
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL %q: %w", raw, err)
	}
	switch httpsrule.Check(u) {
	case httpsrule.OK:
		return nil
	case httpsrule.NoHost:
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
	switch httpsrule.Check(u) {
	case httpsrule.OK:
		return nil
	case httpsrule.NoHost:
		return fmt.Errorf("%q has no host", raw)
	case httpsrule.PlainHTTP:
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
	if httpsrule.Check(u) != httpsrule.OK {
		return fmt.Errorf("%q must be an https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return nil
}
