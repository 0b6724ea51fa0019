package sources

import (
	"fmt"
	"strings"
)

// Spec is one configured source: the spec string plus its options from the config file.
type Spec struct {
	Spec     string // "file:keys/*.pem", "env:VAR", "env-prefix:JWT_", ...
	Alg      string // alg for every key of this source, overriding inference
	KID      string // kid mode or template for this source's keys, overriding the set's
	Optional bool   // a missing file or unset variable is not an error
	Versions string // for versioned sources (Vault): "all", "latest" or a number of recent versions
	// CAFile is a PEM bundle of the CAs an https:// source trusts instead of the system's: a
	// private issuer's.
	CAFile string
	// TokenFile holds a bearer token an https:// source sends (a Kubernetes API server's
	// /openid/v1/jwks needs one). Read on each fetch, never logged.
	TokenFile string
	// Dir is the directory a relative file: path is read from: the configuration file's, so a
	// configuration reads the same keys wherever jwkspub runs. Empty: the working directory.
	// The spec as written (not the joined path) stays the source's name, which the state
	// records: running from another directory must not make a key's source look new.
	Dir string
}

// Defaults are a source's configured alg and kid, stamped on each key it yields.
type Defaults struct {
	Alg string
	KID string
}

// Apply gives keys the configured alg and kid of their spec.
func (d Defaults) Apply(keys []Key) {
	for i := range keys {
		keys[i].ConfigAlg = d.Alg
		keys[i].ConfigKID = d.KID
	}
}

// Kinds lists the spec kinds New understands: a spec is KIND:ARG. New also takes http: for a
// loopback test server, which the list leaves out so that no message suggests it. The configuration schema
// (publish/config) checks specs against this same list.
var Kinds = []string{"file", "env", "env-prefix", "vault-transit", "vault-kv", "vault-oidc", "https", "aws-kms"}

// kindList writes Kinds the way New's errors always have: "file: env: ...".
func kindList() string { return strings.Join(Kinds, ": ") + ":" }

// VaultSources builds the source of a vault-* spec (vault-transit:, vault-kv:, vault-oidc:).
// Package sources/vault's *Vault is one: this package links no Vault client and no network
// package, so the key model built on it links none either.
type VaultSources interface {
	NewSource(kind, arg string, s Spec, opts Options, d Defaults) (Source, error)
}

// Builder builds the source of a spec whose kind needs a package this one does not link: an
// issuer's URL (https:, package sources/issuer) or a cloud KMS (aws-kms:, package
// sources/awskms). The command hands them in through Options, as it does the Vault connection.
type Builder interface {
	NewSource(kind, arg string, s Spec, opts Options, d Defaults) (Source, error)
}

// newVault asks the configured Vault for the source of a vault-* spec.
func newVault(kind, arg string, s Spec, opts Options, d Defaults) (Source, error) {
	if opts.Vault == nil {
		return nil, fmt.Errorf("source %q: no Vault connection (set VAULT_ADDR)", s.Spec)
	}
	return opts.Vault.NewSource(kind, arg, s, opts, d)
}

// New builds the source for a spec. The error says which kinds exist when the spec is unknown.
func New(s Spec, opts Options) (Source, error) {
	kind, arg, ok := strings.Cut(s.Spec, ":")
	d := Defaults{Alg: s.Alg, KID: s.KID}
	if !ok {
		return nil, fmt.Errorf("source %q: missing kind (one of %s)", s.Spec, kindList())
	}
	if kind == "vault-oidc" {
		return newVault(kind, arg, s, opts, d)
	}
	if arg == "" {
		return nil, fmt.Errorf("source %q: empty argument after %q", s.Spec, kind+":")
	}
	switch kind {
	case "file":
		return &File{Pattern: arg, Dir: s.Dir, Optional: s.Optional, Opts: opts, Defaults: d}, nil
	case "env":
		return &Env{Var: arg, Optional: s.Optional, Opts: opts, Defaults: d}, nil
	case "env-prefix":
		return &EnvPrefix{Prefix: arg, Optional: s.Optional, Opts: opts, Defaults: d}, nil
	case "vault-transit", "vault-kv":
		return newVault(kind, arg, s, opts, d)
	case "https", "http":
		if opts.Issuer == nil {
			return nil, fmt.Errorf("source %q: no issuer fetcher configured", s.Spec)
		}
		return opts.Issuer.NewSource(kind, arg, s, opts, d)
	case "aws-kms":
		if opts.KMS == nil {
			return nil, fmt.Errorf("source %q: no AWS KMS client configured", s.Spec)
		}
		return opts.KMS.NewSource(kind, arg, s, opts, d)
	}
	return nil, fmt.Errorf("source %q: unknown kind %q (one of %s)", s.Spec, kind, kindList())
}
