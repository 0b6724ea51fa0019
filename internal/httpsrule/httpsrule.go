// Package httpsrule is the one rule for every URL a JWKS or a discovery document is served from
// or fetched at: https with a host, or plain http to a loopback host (a local test server).
// publish/served words it for verifiers' URLs, the https:// key source for an issuer's; both
// ask this package, so the rule cannot drift between them. It imports only net and net/url:
// package sources' tree may use it without reaching publish.
package httpsrule

import (
	"net"
	"net/url"
)

// Problem is what the rule finds wrong with a URL.
type Problem int

// What Check finds.
const (
	OK        Problem = iota
	NoHost            // no host to fetch from
	PlainHTTP         // http to a host that is not loopback
	NotHTTPS          // another scheme
)

// Check applies the rule to u. Plain http anywhere but loopback lets anyone on the path swap
// the keys verifiers trust. Callers word the refusal for their context.
func Check(u *url.URL) Problem {
	switch {
	case u.Host == "":
		return NoHost
	case u.Scheme == "https":
		return OK
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return OK
	case u.Scheme == "http":
		return PlainHTTP
	}
	return NotHTTPS
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
