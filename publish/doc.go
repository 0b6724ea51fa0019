// Package publish turns keys into a JWK Set and gets it to where verifiers fetch it.
//
// The key model (JWK, Set, Policy, Assemble, Encode, Verify, ParseLive) is package jwks: every
// key is checked there, by a pure function. Build reads the sources and hands their keys to
// jwks.Assemble. The configuration schema is package config.
//
// Publishing is plan, guard, apply, through one contract: a Destination holds a target.Target
// (package target: Read with a revision, Write every object only if still at it) and the URL
// it was configured as. The targets are packages of their own (target/file, target/blob,
// target/oci); the caller opens them, so this package links no cloud SDK and no registry
// client, and no code here branches on what kind of target it is. PlanTarget reads what is
// live (the JWKS, the discovery document, the .gz sibling and the state object, any of them
// absent) and computes the Plan without writing. Guard applies the rotation rules to every
// plan at once, so one refusal stops every target. Apply hands the plan's objects to the
// target in one Write (the JWKS first, the state last, so what verifiers need never lags what
// the state says) and reads them back; Publish re-plans once, and re-runs the guard, when the
// write lost a race. The rotation rules are package rotation, pure functions with no I/O:
// the State object beside each JWKS records when each kid was first published, superseded and
// retired, rotation.NextState computes the next one, and Guard here only builds each plan's
// rotation.Input and collects what rotation.Check refuses. ReadTimeline reads a target for
// rotation.TimelineOf (jwkspub status); both read only the state and the live document.
// What concerns a served URL (the https-or-loopback rule, the one fetcher, drift, CORS, the
// discovery document, token checks) is package served; PlanAgainst (diff --against) plans
// against a document fetched with it.
package publish
