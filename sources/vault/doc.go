// Package vault holds the vault-* key sources: vault-transit: (a Transit key's versions),
// vault-kv: (a PEM or JWK in KV v2) and vault-oidc: (Vault's identity-token keys), the
// connection they read through (Vault, with its login methods and retries) and signing with
// a Transit key (sign-test).
//
// A *Vault is the sources.VaultSources that sources.New asks for a vault-* spec; the
// command makes one only when a set uses Vault. This is the only package of the key path that
// reaches the network: package sources, the key model (publish/jwks) and the rotation rules
// link no network package because the Vault client lives here. It must never import a cloud
// SDK or the registry client.
package vault
