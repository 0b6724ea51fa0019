package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// LiveKey is the identity of a key in a published document.
type LiveKey struct {
	KID        string
	Alg        string
	Use        string
	Thumbprint string
	// X5T is the SHA-256 of the leaf certificate, empty without x5c.
	X5T string
}

// ParseLive reads the identities of the keys in a published JWK Set, which may have been
// written by anything: kid, alg, use, the RFC 7638 thumbprint of the material and the leaf
// certificate's hash. It refuses a document that is not a JWK Set or has a key without a kid
// or with undecodable material, because the guard cannot reason about such keys.
func ParseLive(doc []byte) ([]LiveKey, error) {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("live document is not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, fmt.Errorf("live document has no \"keys\" array")
	}
	out := make([]LiveKey, 0, len(set.Keys))
	seen := map[string]bool{}
	for i, m := range set.Keys {
		str := func(name string) string { s, _ := m[name].(string); return s }
		kid := str("kid")
		if kid == "" {
			return nil, fmt.Errorf("live document: key %d has no kid", i+1)
		}
		if seen[kid] {
			return nil, fmt.Errorf("live document: kid %q appears twice", kid)
		}
		seen[kid] = true
		k := JWK{Kty: str("kty"), Crv: str("crv"), KID: kid}
		var err error
		dec := func(name string) []byte {
			if err != nil {
				return nil
			}
			var b []byte
			b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(str(name), "="))
			return b
		}
		switch k.Kty {
		case "RSA":
			k.N, k.E = dec("n"), dec("e")
		case "EC":
			k.X, k.Y = dec("x"), dec("y")
		case "OKP":
			k.X = dec("x")
		default:
			return nil, fmt.Errorf("live document: kid %q: unsupported kty %q", kid, k.Kty)
		}
		if err != nil {
			return nil, fmt.Errorf("live document: kid %q: key material is not base64url: %w", kid, err)
		}
		lk := LiveKey{KID: kid, Alg: str("alg"), Use: str("use"), Thumbprint: thumbprint(&k)}
		if chain, ok := m["x5c"].([]any); ok && len(chain) > 0 {
			leaf, _ := chain[0].(string)
			der, err := base64.StdEncoding.DecodeString(leaf)
			if err != nil {
				return nil, fmt.Errorf("live document: kid %q: x5c certificate 1 is not base64: %w", kid, err)
			}
			s := sha256.Sum256(der)
			lk.X5T = b64.EncodeToString(s[:])
		}
		out = append(out, lk)
	}
	slices.SortFunc(out, func(a, b LiveKey) int { return strings.Compare(a.KID, b.KID) })
	return out, nil
}

// LiveKeys gives the identities of an assembled set's keys, comparable with ParseLive's.
func LiveKeys(set *Set) []LiveKey {
	out := make([]LiveKey, 0, len(set.Keys))
	for i := range set.Keys {
		k := &set.Keys[i]
		lk := LiveKey{KID: k.KID, Alg: k.Alg, Use: k.Use, Thumbprint: k.Thumbprint}
		if len(k.X5C) > 0 {
			lk.X5T = b64.EncodeToString(sha256Of(k.X5C[0]))
		}
		out = append(out, lk)
	}
	slices.SortFunc(out, func(a, b LiveKey) int { return strings.Compare(a.KID, b.KID) })
	return out
}
