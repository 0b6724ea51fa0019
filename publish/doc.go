// Package publish turns keys into a JWK Set and gets it to where verifiers fetch it.
//
// Assemble is where every key is checked: a pure function over the keys from package sources
// that applies the policy and returns either the set or every violation at once. Encode writes
// the set as deterministic bytes and re-checks its own output for members that must never be
// published. The configuration schema (Config) lives here too, because it describes sets.
package publish
