// Package served holds what concerns a URL verifiers fetch from: the one rule such a URL obeys
// (https, or plain http only to a loopback host: the name localhost or a loopback IP), the one
// fetcher (Get: that rule on the URL and on every redirect, a bounded body), and what is
// checked through it: drift between the served document and the expected one, a CORS check,
// the discovery document (EncodeDiscovery, its issuer under the same rule) and verifying a
// token against a set as a careful verifier would.
//
// It reads the network only through the *http.Client a caller passes, and takes a
// context.Context on every fetch. It must never import package publish, a target
// implementation, a cloud SDK or the registry client: it needs the key model (publish/jwks)
// and the object type of publish/target only.
package served
