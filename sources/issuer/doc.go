// Package issuer holds the https:// key source: an issuer's own JWKS URL, or its OpenID
// discovery document, whose jwks_uri is then fetched. The issuer's kids and algs are kept (its
// verifiers match tokens by them) and every key goes through the set's policy like any other.
//
// A *Fetcher is the sources.Builder that sources.New asks for an https:// (or, for tests, a
// loopback http://) spec. Every URL it fetches, redirects included, obeys the one https rule
// (internal/httpsrule). It reads the network only through net/http and must never import a
// cloud SDK, the registry client or package publish.
package issuer
