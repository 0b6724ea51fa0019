package sources

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
)

// Source yields the public keys found at one spec.
type Source interface {
	// Keys reads the source. It returns every key it could read; when some input could not be
	// read it also returns a non-nil error (errors.Join of one error per problem), and callers
	// must not publish anything in that case.
	Keys(ctx context.Context) ([]Key, error)
	// String returns the spec the source was built from, e.g. "file:keys/*.pem".
	String() string
}

// Historian is a Source whose earlier keys may no longer be among the keys it yields but can
// still be read by the id it gave them (Key.SourceKey): an aws-kms: alias moved to a new key
// yields only that key, while the keys it pointed at before still verify tokens they signed.
// Publication asks it for the live keys the rotation state says came from it, until the
// rotation rules let them go.
type Historian interface {
	Source
	// KeyByID reads the key that had SourceKey id. A key that no longer exists or can no
	// longer be published (deleted, disabled, pending deletion) fails with an error IsGone
	// reports; any other error (unreachable, denied) must stop publication.
	KeyByID(ctx context.Context, id string) (Key, error)
}

// IsGone reports whether err means a Historian's key is gone for good or unusable, rather
// than unreadable this run: its removal is then for the rotation guard to judge. Errors say
// so by having a method Gone() bool that returns true, anywhere in their chain.
func IsGone(err error) bool {
	var g interface{ Gone() bool }
	return errors.As(err, &g) && g.Gone()
}

// Origin says where a key was found, e.g. "file:keys/old.pem block 2".
type Origin struct {
	// Source is the spec of the source ("file:keys/*.pem", "env:JWT_PUBLIC_KEY").
	Source string
	// Location narrows it down inside the source: a file and block, a JSON index, a field.
	Location string
}

func (o Origin) String() string {
	if o.Location == "" {
		return o.Source
	}
	return o.Source + " " + o.Location
}

// Key types as they appear in a JWK's "kty".
const (
	KtyRSA = "RSA"
	KtyEC  = "EC"
	KtyOKP = "OKP"
	KtyOct = "oct"
)

// Curve returns the NIST curve a JWK's "crv" names, or nil for any other name.
func Curve(crv string) elliptic.Curve {
	switch crv {
	case "P-256":
		return elliptic.P256()
	case "P-384":
		return elliptic.P384()
	case "P-521":
		return elliptic.P521()
	}
	return nil
}

// Key is one public key as read from a source, before any policy is applied.
//
// Material is kept as the raw big-endian bytes a JWK would carry, not as a crypto.PublicKey,
// so that publish.Assemble can explain exactly what is wrong with a key (a short modulus, a
// point off its curve, an unknown curve) instead of a parser giving up with a generic error.
type Key struct {
	Kty string // "RSA", "EC", "OKP", "oct" or whatever a JWK said
	Crv string // EC and OKP curve name as in a JWK ("P-256", "Ed25519")
	N   []byte // RSA modulus, big-endian, possibly with leading zeros as given
	E   []byte // RSA public exponent, big-endian
	X   []byte // EC x coordinate, or the OKP public key
	Y   []byte // EC y coordinate

	// KID, Alg and Use are what the input carried, empty when it carried none.
	KID string
	Alg string
	Use string
	// KeyOps is the input's "key_ops" (RFC 7517 §4.3), nil when it carried none. The output
	// never carries it: Assemble checks it agrees with use "sig" and drops it.
	KeyOps []string
	// Derived is set when the key is the public half of private key input (--derive-public),
	// checked against the private part. Such input may carry key_ops "sign".
	Derived bool

	// Certs is the certificate chain the key came with (leaf first): from a PEM certificate or
	// a JWK's x5c. Empty for bare keys.
	Certs []*x509.Certificate

	// Members lists every JSON member name of a JWK input, so that Assemble can refuse members
	// it does not publish (for instance "d" from a source that leaked a private key).
	Members []string

	// Hints carry what the source knows to fill kid templates (Vault key name and version).
	Name    string
	Version int
	// SourceKey is the id the source gives the key, by which a Historian reads it again once
	// it no longer yields it (an AWS KMS key ARN); empty for other sources. The rotation state
	// records it.
	SourceKey string
	// Order is the key's place in its source's own order, higher is newer: the Transit or KV
	// version, the env-prefix slot (previous, current, next). 0 leaves it to the position
	// among the source's keys, which sources return oldest first (files in sorted name
	// order, then their position in the file). The rotation state takes supersession from it.
	Order int

	// Defaults a source may set from its configuration; Assemble applies them.
	ConfigAlg string // the source's configured alg, overriding inference
	ConfigKID string // the source's configured kid mode or template

	Origin Origin
	// Spec is the configured spec of the source that yielded the key ("file:keys/*.pem"),
	// which Origin may narrow to one file; set by publish.Build. State groups keys by it.
	Spec string
}

// Options are shared by all sources.
type Options struct {
	// DerivePublic allows private key input: only its public half is kept. Without it, private
	// key input is refused with ErrPrivateKey.
	DerivePublic bool
	// ReportPrivate keeps the names of a JWK's private members in Key.Members instead of
	// refusing or deriving: for reading a published document, where Assemble then refuses each
	// member by name ([private-member]) and checks the key against every other rule.
	ReportPrivate bool
	// Logger receives warnings (certificates about to expire, derived public keys). Never key
	// material. nil discards.
	Logger *slog.Logger
	// Lookup reads an environment variable for env: and env-prefix: sources. nil means no
	// variable is set: libraries never read the process environment themselves.
	Lookup func(string) (string, bool)
	// Vault builds the vault-* sources (package sources/vault's *Vault, the connection they
	// read through); nil when no Vault is configured (then a vault-* spec is an error naming
	// VAULT_ADDR).
	Vault VaultSources
	// Issuer builds the https:// sources (package sources/issuer); KMS the aws-kms: sources
	// (package sources/awskms). nil makes such a spec an error.
	Issuer Builder
	KMS    Builder
	// Budget bounds the bytes of key input read across every source sharing it. nil bounds
	// each input alone by DefaultMaxInputBytes.
	Budget *Budget
}

// Log is the logger warnings go to: Logger, or one that discards.
func (o Options) Log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) lookup(name string) (string, bool) {
	if o.Lookup == nil {
		return "", false
	}
	return o.Lookup(name)
}

// Error is a problem with one piece of input. It names the origin, what is wrong and how to fix
// it; it never contains key material.
type Error struct {
	Origin Origin
	Err    error  // what is wrong; may wrap ErrPrivateKey
	Fix    string // how to fix it
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Origin, e.Err)
	if e.Fix != "" {
		msg += " (fix: " + e.Fix + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means a source could not be reached rather than that it is
// wrong: its service timed out, refused the connection, or answered 429 or 5xx after every
// retry. An optional source failing this way keeps its live keys at publication (publish.Build
// records it in Set.Unavailable) instead of dropping them. Errors say so by having a method
// Unavailable() bool that returns true, anywhere in their chain.
func IsUnavailable(err error) bool {
	var u interface{ Unavailable() bool }
	return errors.As(err, &u) && u.Unavailable()
}
