// Package keygen makes signing key pairs for people who have none yet: the private key goes
// only to a file created with mode 0600, and the public side comes out exactly as jwkspub
// build would publish it.
package keygen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// Key sizes.
const (
	DefaultRSABits = 3072
	MaxRSABits     = 16384
)

// ErrBadOptions is wrapped by every refusal of Options.
var ErrBadOptions = errors.New("invalid key options")

// Options say what key to make.
type Options struct {
	Kty  string // "RSA", "EC" or "OKP"
	Bits int    // RSA modulus size; 0 means DefaultRSABits; below 2048 is refused
	Crv  string // EC: "P-256" (default), "P-384", "P-521"; OKP: "Ed25519" (default)
	Alg  string // optional; default inferred as build does (RS256, ES256/384/512, EdDSA)
	KID  string // optional; default the RFC 7638 thumbprint
	// Rand is the entropy source; nil means crypto/rand.
	Rand io.Reader
}

// Pair is a generated key pair. The private half is kept unexported: it can only be written to
// a new file by WritePrivate, so that no code path prints it by accident.
type Pair struct {
	private []byte // PKCS#8 PEM

	// PublicPEM is the PKIX public key PEM.
	PublicPEM []byte
	// JWK is the public key as build publishes it: normalised, with its kid, alg and use.
	JWK jwks.JWK
	// JWKJSON is JWK encoded by jwks.EncodeKey.
	JWKJSON []byte
}

// Generate makes a key pair. The public JWK goes through the same parser (sources.ParsePEM),
// policy (jwks.Assemble) and encoder (jwks.EncodeKey) as build, so what keygen prints is
// what build will publish for the same key.
func Generate(o Options) (*Pair, error) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	var (
		priv crypto.Signer
		err  error
	)
	switch strings.ToUpper(o.Kty) {
	case sources.KtyRSA:
		bits := o.Bits
		if bits == 0 {
			bits = DefaultRSABits
		}
		if bits < jwks.MinRSABitsFloor || bits > MaxRSABits {
			return nil, fmt.Errorf("%w: RSA keys must have %d to %d bits, not %d (3072 recommended)", ErrBadOptions, jwks.MinRSABitsFloor, MaxRSABits, bits)
		}
		if o.Crv != "" {
			return nil, fmt.Errorf("%w: RSA keys have no curve", ErrBadOptions)
		}
		priv, err = rsa.GenerateKey(r, bits)
	case sources.KtyEC:
		if o.Bits != 0 {
			return nil, fmt.Errorf("%w: the size of an EC key is set by its curve, not bits", ErrBadOptions)
		}
		var c elliptic.Curve
		switch o.Crv {
		case "", "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("%w: EC curve %q: use P-256, P-384 or P-521", ErrBadOptions, o.Crv)
		}
		priv, err = ecdsa.GenerateKey(c, r)
	case sources.KtyOKP:
		if o.Bits != 0 {
			return nil, fmt.Errorf("%w: Ed25519 keys have a fixed size", ErrBadOptions)
		}
		if o.Crv != "" && o.Crv != "Ed25519" {
			return nil, fmt.Errorf("%w: OKP curve %q: use Ed25519", ErrBadOptions, o.Crv)
		}
		_, priv, err = ed25519.GenerateKey(r)
	default:
		return nil, fmt.Errorf("%w: kty %q: use RSA, EC or OKP", ErrBadOptions, o.Kty)
	}
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return fromSigner(priv, o)
}

func fromSigner(priv crypto.Signer, o Options) (*Pair, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	p := &Pair{
		private:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		PublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}
	clear(der)
	origin := sources.Origin{Source: "keygen"}
	keys, err := sources.ParsePEM(p.PublicPEM, origin, sources.Options{})
	if err != nil {
		return nil, err
	}
	keys[0].ConfigAlg, keys[0].KID = o.Alg, o.KID
	set, err := jwks.Assemble(keys, jwks.AssembleOptions{})
	if err != nil {
		return nil, err
	}
	p.JWK = set.Keys[0]
	if p.JWKJSON, err = jwks.EncodeKey(&p.JWK); err != nil {
		return nil, err
	}
	return p, nil
}

// WritePrivate writes the private key PEM (PKCS#8) to a new file with mode 0600. It refuses to
// overwrite anything that exists at path, a symlink included, and removes what it created if
// writing fails.
func (p *Pair) WritePrivate(path string) (err error) {
	if p.private == nil {
		return errors.New("writing private key: the key was forgotten")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("writing private key: %s already exists; keygen never overwrites a key (choose another path, or remove the old key deliberately)", path)
		}
		return fmt.Errorf("writing private key: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	// The umask can only remove bits from 0600, but be explicit about the result.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing private key %s: %w", path, err)
	}
	if _, err := f.Write(p.private); err != nil {
		return fmt.Errorf("writing private key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing private key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing private key %s: %w", path, err)
	}
	return nil
}

// Forget overwrites the private key held in memory; the Pair cannot write it afterwards.
func (p *Pair) Forget() {
	clear(p.private)
	p.private = nil
}

// EnvLines returns the public side in the identity-service convention read by the
// env-prefix source, as a .env file holds it: prefix+"PUBLIC_KEY" as a double-quoted PEM with
// literal \n escapes, and prefix+"KEY_ID". Nothing private.
func (p *Pair) EnvLines(prefix string) string {
	escaped := strings.ReplaceAll(string(p.PublicPEM), "\n", `\n`)
	kid := p.JWK.KID
	if strings.ContainsFunc(kid, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r))
	}) {
		kid = strconv.Quote(kid)
	}
	return fmt.Sprintf("%sPUBLIC_KEY=\"%s\"\n%sKEY_ID=%s\n", prefix, escaped, prefix, kid)
}

// PublicEnv returns the values EnvLines writes, unquoted and unescaped, by variable name.
func (p *Pair) PublicEnv(prefix string) map[string]string {
	return map[string]string{prefix + "PUBLIC_KEY": string(p.PublicPEM), prefix + "KEY_ID": p.JWK.KID}
}
