package sources

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
)

// ErrPrivateMismatch is wrapped when the private part of --derive-public input does not belong
// to the public key published beside it: the published key would then fail every token signed
// with that private key.
var ErrPrivateMismatch = errors.New("private-mismatch")

// maxRSABytes bounds the RSA keys whose private part is checked (16384 bits, four times the
// largest key in common use).
const maxRSABytes = 2048

const fixMismatch = "export the key pair again from one private key (openssl pkey -pubout for its public half)"

// checkPrivate proves that priv's private part determines the public key priv carries. Parsers
// fill the public half from the input (a JWK's x/y/n, an OpenSSH file's public blob), not from
// the private part, so a key pair glued from two keys would otherwise pass. The messages never
// contain key material.
func checkPrivate(priv crypto.Signer) error {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) >= 2 {
			if err := k.Validate(); err != nil {
				return fmt.Errorf("%w: the RSA private key's primes, d and n do not form one key", ErrPrivateMismatch)
			}
			return nil
		}
		// Without the primes, a round trip through d and e is the check: (m^d)^e ≡ m mod n holds
		// for every m exactly when d inverts e for n's group.
		if k.N == nil || k.N.Sign() <= 0 || k.D == nil || k.E < 3 {
			return fmt.Errorf("%w: the RSA private key lacks n, e or d", ErrPrivateMismatch)
		}
		for _, m := range []int64{2, 3, 65521} {
			mb := big.NewInt(m)
			s := new(big.Int).Exp(mb, k.D, k.N)
			if new(big.Int).Exp(s, big.NewInt(int64(k.E)), k.N).Cmp(mb) != 0 {
				return fmt.Errorf("%w: the RSA private exponent d does not belong to the modulus n and exponent e", ErrPrivateMismatch)
			}
		}
		return nil
	case *ecdsa.PrivateKey:
		sk, err := k.ECDH()
		if err != nil {
			return fmt.Errorf("%w: d is not a valid %s private scalar", ErrPrivateMismatch, k.Curve.Params().Name)
		}
		pub, err := k.PublicKey.Bytes()
		if err != nil || !bytes.Equal(sk.PublicKey().Bytes(), pub) {
			return fmt.Errorf("%w: the public point is not d·G for the private scalar d", ErrPrivateMismatch)
		}
		return nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return fmt.Errorf("%w: an Ed25519 private key is a 32-byte seed", ErrPrivateMismatch)
		}
		if !bytes.Equal(ed25519.NewKeyFromSeed(k.Seed())[32:], k[32:]) {
			return fmt.Errorf("%w: the public key is not the one the Ed25519 seed d determines", ErrPrivateMismatch)
		}
		return nil
	}
	return fmt.Errorf("unsupported private key type %T", priv)
}

// privateFromJWK builds the private key a JWK describes from its public members (already in k)
// and its private members, so that checkPrivate can compare the two halves. It returns nil when
// the key type has no signing private key jwkspub knows (Assemble refuses those keys anyway).
func privateFromJWK(k *Key, priv map[string][]byte) (crypto.Signer, error) {
	d := priv["d"]
	if len(d) == 0 {
		return nil, fmt.Errorf("%w: private JWK without \"d\"", ErrPrivateMismatch)
	}
	switch k.Kty {
	case KtyRSA:
		// Bound the modular exponentiations below: their cost grows with the cube of the size.
		if len(k.N) > maxRSABytes || len(d) > len(k.N) || len(priv["p"]) > len(k.N) || len(priv["q"]) > len(k.N) {
			return nil, fmt.Errorf("%w: an RSA private key larger than %d bits, or with d, p or q longer than n", ErrPrivateMismatch, maxRSABytes*8)
		}
		e := new(big.Int).SetBytes(k.E)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("%w: RSA exponent e is too large", ErrPrivateMismatch)
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(e.Int64())}, D: new(big.Int).SetBytes(d)}
		if p, q := priv["p"], priv["q"]; len(p) > 0 && len(q) > 0 {
			key.Primes = []*big.Int{new(big.Int).SetBytes(p), new(big.Int).SetBytes(q)}
		}
		return key, nil
	case KtyEC:
		c := Curve(k.Crv)
		if c == nil {
			return nil, nil
		}
		return &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c, X: new(big.Int).SetBytes(k.X), Y: new(big.Int).SetBytes(k.Y)}, D: new(big.Int).SetBytes(d)}, nil
	case KtyOKP:
		if k.Crv != "Ed25519" {
			return nil, nil
		}
		if len(d) != ed25519.SeedSize || len(k.X) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: an Ed25519 JWK's d is the 32-byte seed and x the 32-byte public key", ErrPrivateMismatch)
		}
		return ed25519.PrivateKey(append(append(make([]byte, 0, ed25519.PrivateKeySize), d...), k.X...)), nil
	}
	return nil, nil
}
