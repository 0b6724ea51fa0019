// Package jwks is the key model: what a published key is and what may be published.
//
// Assemble is where every key is checked: a pure function over the keys from package sources
// that applies the Policy (algs, RSA size and exponent, curves, weak keys, certificates, kid
// modes and templates, the set's size) and returns either the Set or every violation at once
// in a *PolicyError. Encode writes a set as deterministic bytes and re-checks its own output
// with CheckPublicOnly, so a member that must never be published (a private parameter) cannot
// leave. EncodeKey is one key of it. Verify judges a document someone else wrote by the same
// rules; ParseLive and LiveKeys give the identities (kid, alg, use, RFC 7638 thumbprint, leaf
// certificate hash) the rotation rules compare.
//
// Nothing here does I/O or reads the clock: callers pass Now. The package must never import
// a network, cloud or registry package, nor package publish or any target: keygen, verify and
// the rotation rules link it without the rest. (Package sources, which it builds on, holds
// the Vault readers too; internal/shape checks that jwks adds nothing of that kind itself.)
package jwks
