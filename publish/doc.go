// Package publish turns keys into a JWK Set and gets it to where verifiers fetch it.
//
// Assemble is where every key is checked: a pure function over the keys from package sources
// that applies the policy and returns either the set or every violation at once. Encode writes
// the set as deterministic bytes and re-checks its own output for members that must never be
// published. The configuration schema (Config) lives here too, because it describes sets.
//
// Publishing is plan, guard, apply. A Target is a *blob.Bucket (gocloud.dev) and the key of the
// JWKS in it, from SplitTarget, the one place a target URL is split; the caller opens the
// bucket, so this package links no cloud driver. PlanTarget reads what is live (the JWKS, the
// discovery document, the .gz sibling and the state object, any of them absent) and computes
// the Plan without writing. Guard applies the rotation rules to every plan at once, so one
// refusal stops every target. Apply writes a plan's objects (JWKS first, state last) and reads
// each back. The State object beside each JWKS records when each kid was first published,
// superseded and retired; the guard and TimelineOf (jwkspub status) read only it and the live
// document.
package publish
