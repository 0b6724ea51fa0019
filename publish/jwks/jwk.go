package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"

	"github.com/jwkspub/jwkspub/sources"
)

// JWK is one key as it will be published: public members only, already normalised (RSA n and
// e minimal, EC coordinates at full curve width).
type JWK struct {
	Kty string
	Use string
	Alg string
	KID string
	Crv string
	N   []byte
	E   []byte
	X   []byte
	Y   []byte
	// X5C is the certificate chain, DER, leaf first.
	X5C [][]byte

	// Thumbprint is the RFC 7638 SHA-256 thumbprint, base64url: the key's identity whatever
	// its kid. Not published as a member.
	Thumbprint string
	// Origin is where the key came from. Not published.
	Origin sources.Origin
	// Spec is the spec of the configured source that gave the key ("file:keys/*.pem"), set
	// by Build: the rotation state groups keys by it. Not published.
	Spec string
	// Order ranks the key among its source's keys, higher is newer (see sources.Key.Order),
	// from 1; set by Build, 0 when unknown. The rotation state takes supersession from it.
	// Not published.
	Order int
	// SourceKey is the source's id of the key (sources.Key.SourceKey), which the rotation
	// state records so that a Historian can read the key again. Not published.
	SourceKey string
}

// curveWidth is the coordinate size in bytes of each supported EC curve.
var curveWidth = map[string]int{"P-256": 32, "P-384": 48, "P-521": 66}

var b64 = base64.RawURLEncoding

// thumbprint computes the RFC 7638 JWK thumbprint over the required members in
// lexicographic order, from already-normalised members.
func thumbprint(k *JWK) string {
	var buf []byte
	switch k.Kty {
	case sources.KtyRSA:
		buf = make([]byte, 0, 32+b64.EncodedLen(len(k.N)))
		buf = append(buf, `{"e":"`...)
		buf = b64.AppendEncode(buf, k.E)
		buf = append(buf, `","kty":"RSA","n":"`...)
		buf = b64.AppendEncode(buf, k.N)
		buf = append(buf, `"}`...)
	case sources.KtyEC:
		buf = make([]byte, 0, 64+2*b64.EncodedLen(len(k.X)))
		buf = append(buf, `{"crv":"`...)
		buf = append(buf, k.Crv...)
		buf = append(buf, `","kty":"EC","x":"`...)
		buf = b64.AppendEncode(buf, k.X)
		buf = append(buf, `","y":"`...)
		buf = b64.AppendEncode(buf, k.Y)
		buf = append(buf, `"}`...)
	case sources.KtyOKP:
		buf = append(buf, `{"crv":"`...)
		buf = append(buf, k.Crv...)
		buf = append(buf, `","kty":"OKP","x":"`...)
		buf = b64.AppendEncode(buf, k.X)
		buf = append(buf, `"}`...)
	}
	sum := sha256.Sum256(buf)
	return b64.EncodeToString(sum[:])
}

// PublicKey returns the standard library form of the key.
func (k *JWK) PublicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case sources.KtyRSA:
		e := new(big.Int).SetBytes(k.E)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, errors.New("RSA exponent too large")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(e.Int64())}, nil
	case sources.KtyEC:
		c := sources.Curve(k.Crv)
		if c == nil {
			return nil, errors.New("unsupported curve " + k.Crv)
		}
		raw := append(append([]byte{4}, k.X...), k.Y...)
		return ecdsa.ParseUncompressedPublicKey(c, raw)
	case sources.KtyOKP:
		if k.Crv != "Ed25519" || len(k.X) != ed25519.PublicKeySize {
			return nil, errors.New("unsupported OKP key")
		}
		return ed25519.PublicKey(k.X), nil
	}
	return nil, errors.New("unsupported kty " + k.Kty)
}

// k8sKID is the kid Kubernetes gives service-account signing keys: base64url SHA-256 of the
// PKIX DER of the public key.
func k8sKID(k *JWK) (string, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return b64.EncodeToString(sum[:]), nil
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// SourceSpec is the configured source of a key: its Spec, or for a key assembled without
// Build, the source of its origin.
func (k *JWK) SourceSpec() string {
	if k.Spec != "" {
		return k.Spec
	}
	return k.Origin.Source
}
