// Package benchkeys makes many distinct public keys quickly, for benchmarks: the build
// benchmark's corpus (internal/benchcorpus) and the publish package's Assemble benchmarks.
//
// RSA moduli are products of pairs drawn from a small pool of random 1024-bit primes: each is a
// genuine 2048-bit RSA modulus and all are distinct, but 2,000 of them take about a second
// instead of minutes of rsa.GenerateKey on a shared 2-core machine. Moduli that share factors
// are worthless for signing; these keys are only ever parsed, checked and encoded.
package benchkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
)

// RSAModuli returns n distinct 2048-bit moduli, each the product of two distinct 1024-bit
// primes (rand.Prime sets the top two bits, so every product has exactly 2048 bits), with
// e = 65537 invertible modulo φ.
func RSAModuli(n int) ([]*big.Int, error) {
	pool := 2
	for pool*(pool-1)/2 < n {
		pool++
	}
	e := big.NewInt(65537)
	one := big.NewInt(1)
	primes := make([]*big.Int, 0, pool)
	for len(primes) < pool {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			return nil, err
		}
		if new(big.Int).Mod(new(big.Int).Sub(p, one), e).Sign() == 0 {
			continue // e would not be invertible
		}
		primes = append(primes, p)
	}
	out := make([]*big.Int, 0, n)
	for i := 0; i < pool && len(out) < n; i++ {
		for j := i + 1; j < pool && len(out) < n; j++ {
			m := new(big.Int).Mul(primes[i], primes[j])
			if m.BitLen() != 2048 {
				return nil, fmt.Errorf("modulus of %d bits", m.BitLen())
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// Keys returns nRSA RSA-2048 public keys followed by nEC P-256 public keys, all distinct.
func Keys(nRSA, nEC int) ([]crypto.PublicKey, error) {
	moduli, err := RSAModuli(nRSA)
	if err != nil {
		return nil, err
	}
	out := make([]crypto.PublicKey, 0, nRSA+nEC)
	for _, n := range moduli {
		out = append(out, &rsa.PublicKey{N: n, E: 65537})
	}
	for range nEC {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		out = append(out, &k.PublicKey)
	}
	return out, nil
}
