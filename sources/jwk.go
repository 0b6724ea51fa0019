package sources

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// privateMembers are the JWK members that carry private or secret key material (RFC 7518 §6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// IsPrivateMember reports whether a JWK member name carries private or secret material.
func IsPrivateMember(name string) bool { return slices.Contains(privateMembers, name) }

// ParseJWK reads a JWK or a JWK Set ({"keys": [...]}) from data. Keys of a set are numbered
// from 1 in Origin.Location ("key 1" is the first), like every position jwkspub names.
func ParseJWK(data []byte, origin Origin, opts Options) ([]Key, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimBOM(data), &top); err != nil {
		return nil, &Error{Origin: origin, Err: fmt.Errorf("parsing JSON: %w", err), Fix: "give a JWK object or a JWK Set {\"keys\": [...]}"}
	}
	rawKeys, isSet := top["keys"]
	if !isSet {
		k, err := parseOneJWK(top, origin, opts)
		if err != nil {
			return nil, err
		}
		return []Key{k}, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(rawKeys, &elems); err != nil {
		return nil, &Error{Origin: origin, Err: errors.New(`"keys" is not an array`), Fix: "give a JWK Set {\"keys\": [...]}"}
	}
	var (
		keys []Key
		errs []error
	)
	for i, raw := range elems {
		at := origin
		at.Location = joinLoc(origin.Location, fmt.Sprintf("key %d", i+1))
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			errs = append(errs, &Error{Origin: at, Err: errors.New("not a JSON object"), Fix: "every element of \"keys\" must be a JWK object"})
			continue
		}
		k, err := parseOneJWK(m, at, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{Origin: origin, Err: ErrNoKeys, Fix: "the JWK Set has no keys; add at least one"})
	}
	return keys, errors.Join(errs...)
}

func parseOneJWK(m map[string]json.RawMessage, at Origin, opts Options) (Key, error) {
	bad := func(format string, a ...any) error {
		return &Error{Origin: at, Err: fmt.Errorf(format, a...), Fix: "correct the JWK (RFC 7517, RFC 7518 §6)"}
	}
	var k Key
	k.Origin = at
	var private []string
	for name := range m {
		if IsPrivateMember(name) && !opts.ReportPrivate {
			private = append(private, name)
			continue
		}
		k.Members = append(k.Members, name)
	}
	sort.Strings(k.Members)
	sort.Strings(private)
	if len(private) > 0 && !opts.DerivePublic {
		kid, _ := jsonString(m, "kid")
		what := "private JWK"
		if kty, _ := jsonString(m, "kty"); kty == KtyOct {
			what = "symmetric (oct) JWK"
		}
		return k, &Error{Origin: at, Err: fmt.Errorf("%w: %s%s with member(s) %s", ErrPrivateKey, what, kidNote(kid), strings.Join(private, ", ")), Fix: fixPrivate}
	}

	str := func(name string) (string, error) {
		s, err := jsonString(m, name)
		if err != nil {
			return "", bad("member %q: %v", name, err)
		}
		return s, nil
	}
	var err error
	if k.Kty, err = str("kty"); err != nil {
		return k, err
	}
	if k.Kty == "" {
		return k, bad(`missing "kty"`)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"crv", &k.Crv}, {"kid", &k.KID}, {"alg", &k.Alg}, {"use", &k.Use}} {
		if *f.dst, err = str(f.name); err != nil {
			return k, err
		}
	}
	b64 := func(name string, dst *[]byte) error {
		s, err := str(name)
		if err != nil || s == "" {
			return err
		}
		v, err := decodeB64URL(s)
		if err != nil {
			return bad("member %q is not base64url: %v", name, err)
		}
		*dst = v
		return nil
	}
	switch k.Kty {
	case KtyRSA:
		if err := errors.Join(b64("n", &k.N), b64("e", &k.E)); err != nil {
			return k, err
		}
		if len(k.N) == 0 || len(k.E) == 0 {
			return k, bad(`RSA JWK needs "n" and "e"`)
		}
	case KtyEC:
		if err := errors.Join(b64("x", &k.X), b64("y", &k.Y)); err != nil {
			return k, err
		}
		if len(k.X) == 0 || len(k.Y) == 0 || k.Crv == "" {
			return k, bad(`EC JWK needs "crv", "x" and "y"`)
		}
	case KtyOKP:
		if err := b64("x", &k.X); err != nil {
			return k, err
		}
		if len(k.X) == 0 || k.Crv == "" {
			return k, bad(`OKP JWK needs "crv" and "x"`)
		}
	}
	if raw, ok := m["key_ops"]; ok {
		if err := json.Unmarshal(raw, &k.KeyOps); err != nil || k.KeyOps == nil {
			return k, bad(`"key_ops" is not an array of strings`)
		}
	}
	if raw, ok := m["kid"]; ok && k.KID == "" && string(raw) == `""` {
		opts.logger().Warn("empty kid treated as absent; the set's kid mode names the key", "origin", at.String())
	}
	if raw, ok := m["x5c"]; ok {
		var chain []string
		if err := json.Unmarshal(raw, &chain); err != nil {
			return k, bad(`"x5c" is not an array of strings`)
		}
		for i, c := range chain {
			der, err := base64.StdEncoding.DecodeString(c)
			if err != nil {
				return k, bad("x5c certificate %d is not standard base64: %v", i+1, err)
			}
			cert, err := parseCert(der)
			if err != nil {
				return k, &Error{Origin: at, Err: fmt.Errorf("x5c certificate %d: %w", i+1, err), Fix: fixOf(err, "correct the JWK's x5c (RFC 7517 §4.7)")}
			}
			k.Certs = append(k.Certs, cert)
		}
	}
	if len(private) > 0 {
		if err := checkPrivateJWK(&k, m); err != nil {
			return k, &Error{Origin: at, Err: err, Fix: fixMismatch}
		}
		k.Derived = true
		opts.logger().Info("derived public key from private JWK; private members discarded", "origin", at.String())
	}
	return k, nil
}

// checkPrivateJWK decodes the private members a --derive-public JWK carries and proves they
// belong to its public members. The decoded private values live only in this call.
func checkPrivateJWK(k *Key, m map[string]json.RawMessage) error {
	priv := make(map[string][]byte, 3)
	for _, name := range []string{"d", "p", "q"} {
		s, err := jsonString(m, name)
		if err != nil {
			return fmt.Errorf("%w: member %q is not a string", ErrPrivateMismatch, name)
		}
		if priv[name], err = decodeB64URL(s); err != nil {
			return fmt.Errorf("%w: member %q is not base64url", ErrPrivateMismatch, name)
		}
	}
	signer, err := privateFromJWK(k, priv)
	if err != nil || signer == nil {
		return err
	}
	return checkPrivate(signer)
}

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %q)", kid)
}

// jsonString returns a string member, "" when absent, and an error when it is not a string.
func jsonString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("not a string")
	}
	return s, nil
}

// decodeB64URL decodes base64url as JWKs use it. Padding is tolerated because some emitters
// add it; any other deviation is an error.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// looksLikeJSON reports whether data is probably a JSON object.
func looksLikeJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] == '{'
}
