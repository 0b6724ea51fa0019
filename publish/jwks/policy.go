package jwks

import (
	"fmt"
	"strings"
)

// Policy is what a set must satisfy to be published.
type Policy struct {
	// MinRSABits is the smallest RSA modulus accepted; 0 means the default, 2048, which is
	// also the floor: smaller values are a configuration error.
	MinRSABits int `yaml:"min_rsa_bits"`
	// MaxKeys bounds the set's size; 0 means DefaultMaxKeys.
	MaxKeys int `yaml:"max_keys"`
	// AllowedAlgs lists the algs keys may carry; empty means every supported signing alg.
	AllowedAlgs []string `yaml:"allowed_algs"`
	// RSAExponents lists public exponents accepted besides 65537.
	RSAExponents []int `yaml:"rsa_exponents"`
}

// Policy defaults and floors.
const (
	MinRSABitsFloor = 2048
	DefaultMaxKeys  = 32
	// CertWarnWithin is how close to expiry a certificate draws a warning.
	CertWarnDays = 30
)

// algKty maps every supported JWS signing alg to the key type and curve it needs.
var algKty = map[string]struct{ kty, crv string }{
	"RS256": {"RSA", ""}, "RS384": {"RSA", ""}, "RS512": {"RSA", ""},
	"PS256": {"RSA", ""}, "PS384": {"RSA", ""}, "PS512": {"RSA", ""},
	"ES256": {"EC", "P-256"}, "ES384": {"EC", "P-384"}, "ES512": {"EC", "P-521"},
	"EdDSA": {"OKP", "Ed25519"},
}

// SupportedAlgs lists the signing algs jwkspub publishes, in a stable order.
var SupportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// inferAlg is the alg a key gets when neither its input nor the configuration gives one.
func inferAlg(kty, crv string) string {
	switch kty {
	case "RSA":
		return "RS256"
	case "EC":
		switch crv {
		case "P-256":
			return "ES256"
		case "P-384":
			return "ES384"
		case "P-521":
			return "ES512"
		}
	case "OKP":
		if crv == "Ed25519" {
			return "EdDSA"
		}
	}
	return ""
}

func (p Policy) minRSABits() int {
	return max(p.MinRSABits, MinRSABitsFloor)
}

func (p Policy) maxKeys() int {
	if p.MaxKeys <= 0 {
		return DefaultMaxKeys
	}
	return p.MaxKeys
}

func (p Policy) allowsAlg(alg string) bool {
	if len(p.AllowedAlgs) == 0 {
		_, ok := algKty[alg]
		return ok
	}
	for _, a := range p.AllowedAlgs {
		if a == alg {
			return true
		}
	}
	return false
}

func (p Policy) allowsExponent(e int64) bool {
	if e == 65537 {
		return true
	}
	for _, x := range p.RSAExponents {
		if int64(x) == e {
			return true
		}
	}
	return false
}

// Validate checks the policy itself, returning one message per problem.
func (p Policy) Validate() []string {
	var errs []string
	if p.MinRSABits != 0 && p.MinRSABits < MinRSABitsFloor {
		errs = append(errs, fmt.Sprintf("policy.min_rsa_bits %d is below the floor of %d", p.MinRSABits, MinRSABitsFloor))
	}
	if p.MaxKeys < 0 {
		errs = append(errs, fmt.Sprintf("policy.max_keys %d is negative", p.MaxKeys))
	}
	for _, a := range p.AllowedAlgs {
		if _, ok := algKty[a]; !ok {
			errs = append(errs, fmt.Sprintf("policy.allowed_algs: %q is not a supported signing alg (one of %s)", a, strings.Join(SupportedAlgs, ", ")))
		}
	}
	for _, e := range p.RSAExponents {
		if e < 3 || e%2 == 0 {
			errs = append(errs, fmt.Sprintf("policy.rsa_exponents: %d is not an odd exponent of at least 3", e))
		}
	}
	return errs
}

// maxKeysFix is the fix of a max-keys refusal. A Transit key publishes every version Vault
// still verifies with, so one long-lived key can fill the set: the fix then names the source
// and its versions option.
func maxKeysFix(keys []JWK) string {
	const generic = "remove retired keys from the sources, or raise policy.max_keys"
	count := map[string]int{}
	top := ""
	for i := range keys {
		src := keys[i].SourceSpec()
		if !strings.HasPrefix(src, "vault-transit:") {
			continue
		}
		count[src]++
		if count[src] > count[top] || count[src] == count[top] && src < top {
			top = src
		}
	}
	if top == "" || count[top] < 2 {
		return generic
	}
	return fmt.Sprintf("%s gives %d versions: publish only the recent ones with `versions: N` on that source, or raise its min_decryption_version; or %s", top, count[top], generic)
}
