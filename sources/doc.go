// Package sources is where keys enter jwkspub.
//
// A Source turns one spec (file:..., env:..., env-prefix:..., vault-transit:..., vault-kv:...,
// vault-oidc:, https://..., aws-kms:...) into Keys that carry their public material in a neutral form plus their
// provenance, so that every later refusal can name exactly where a key came from. Sources parse and decode; they do not judge
// key strength, algorithms or duplicates: that is jwks.Assemble's job (publish/jwks), which
// reports every violation at once.
//
// The vault-* sources are package sources/vault, which New reaches through Options.Vault
// (VaultSources); https:// is package sources/issuer (Options.Issuer) and aws-kms: package
// sources/awskms (Options.KMS). This package links no network package, so the key model built
// on it links none either.
//
// Private key material is refused where it is read unless the caller opted in with
// Options.DerivePublic; even then only the public half leaves this package.
package sources
