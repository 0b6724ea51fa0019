// Package rotation holds the rotation rules as pure functions: what may leave a published JWK
// Set, and when.
//
// State is the state object kept beside each published document (format StateVersion 1:
// ParseState, Encode); NextState computes the state after a publication, adopting live keys the
// state does not know so that a crash between the document and the state never loses a
// supersession. SafeDelay reads Cache-Control (RFC 9111 delta-seconds, saturating, never
// wrapping) plus the configured cdn_ttl; Check judges one Input (the live and the next key
// identities, the old state, the time, the safe delay, the Rules) and returns every violation
// with its rule name and fix; TimelineOf shows the same dates to an operator. Rules is the
// configuration's rotation: block and decodes itself from YAML.
//
// Nothing here takes a context.Context, reads a clock, a file or a target: every input is an
// argument, so the rules are tested apart from any I/O. The package must never import a
// network, cloud or registry package, nor package publish or a target; it builds on the key
// model, publish/jwks, for key identities only.
package rotation
