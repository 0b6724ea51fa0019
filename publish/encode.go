package publish

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// allowedMembers are the only members a published JWK may have, per kty. Anything else,
// private material above all, is refused by CheckPublicOnly.
var allowedMembers = map[string][]string{
	"RSA": {"kty", "use", "alg", "kid", "n", "e", "x5c", "x5t#S256"},
	"EC":  {"kty", "use", "alg", "kid", "crv", "x", "y", "x5c", "x5t#S256"},
	"OKP": {"kty", "use", "alg", "kid", "crv", "x", "x5c", "x5t#S256"},
}

// Encode writes the set as JSON: members in a fixed order (kty, use, alg, kid, key parameters,
// x5c, x5t#S256), keys in the set's order, a trailing newline. Equal sets give equal bytes.
// Only the members allowed for each kty are written, and the result is re-parsed by
// CheckPublicOnly before it is returned.
func Encode(set *Set, pretty bool) ([]byte, error) {
	size := 16
	for i := range set.Keys {
		k := &set.Keys[i]
		size += 96 + len(k.KID) + 2*(len(k.N)+len(k.X)+len(k.Y))
		for _, c := range k.X5C {
			size += 4 + base64.StdEncoding.EncodedLen(len(c))
		}
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"keys":[`...)
	for i := range set.Keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = appendJWK(buf, &set.Keys[i]); err != nil {
			return nil, err
		}
	}
	buf = append(buf, "]}"...)
	if err := CheckPublicOnly(buf); err != nil {
		return nil, err
	}
	if pretty {
		var out bytes.Buffer
		if err := json.Indent(&out, buf, "", "  "); err != nil {
			return nil, fmt.Errorf("indenting: %w", err)
		}
		buf = out.Bytes()
	}
	return append(buf, '\n'), nil
}

func appendJWK(buf []byte, k *JWK) ([]byte, error) {
	if _, ok := allowedMembers[k.Kty]; !ok {
		return nil, fmt.Errorf("encoding kid %q: unsupported kty %q", k.KID, k.Kty)
	}
	buf = appendMember(buf, "kty", k.Kty, true)
	buf = appendMember(buf, "use", k.Use, false)
	buf = appendMember(buf, "alg", k.Alg, false)
	buf = appendMember(buf, "kid", k.KID, false)
	switch k.Kty {
	case "RSA":
		buf = appendB64(buf, "n", k.N)
		buf = appendB64(buf, "e", k.E)
	case "EC":
		buf = appendMember(buf, "crv", k.Crv, false)
		buf = appendB64(buf, "x", k.X)
		buf = appendB64(buf, "y", k.Y)
	case "OKP":
		buf = appendMember(buf, "crv", k.Crv, false)
		buf = appendB64(buf, "x", k.X)
	}
	if len(k.X5C) > 0 {
		buf = append(buf, `,"x5c":[`...)
		for i, c := range k.X5C {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '"')
			buf = base64.StdEncoding.AppendEncode(buf, c)
			buf = append(buf, '"')
		}
		buf = append(buf, ']')
		buf = appendB64(buf, "x5t#S256", sha256Of(k.X5C[0]))
	}
	return append(buf, '}'), nil
}

func appendMember(buf []byte, name, value string, first bool) []byte {
	if first {
		buf = append(buf, '{')
	} else {
		buf = append(buf, ',')
	}
	buf = append(buf, '"')
	buf = append(buf, name...)
	buf = append(buf, `":`...)
	return appendString(buf, value)
}

func appendB64(buf []byte, name string, v []byte) []byte {
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":"`...)
	buf = b64.AppendEncode(buf, v)
	return append(buf, '"')
}

// appendString writes a JSON string; plain ASCII (every kid we make) takes the fast path.
func appendString(buf []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(buf, q...)
}

// ErrPrivateMember is wrapped by CheckPublicOnly's refusals.
var ErrPrivateMember = errors.New("member not allowed in a published JWK")

// CheckPublicOnly parses an encoded JWK Set and refuses any key member outside the public
// members of its kty, any unknown kty, and any top-level member but "keys". It is the last
// check before bytes leave jwkspub, independent of how they were produced.
func CheckPublicOnly(doc []byte) error {
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return fmt.Errorf("re-parsing encoded set: %w", err)
	}
	for name := range top {
		if name != "keys" {
			return fmt.Errorf("%w: top-level member %q", ErrPrivateMember, name)
		}
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return fmt.Errorf("re-parsing encoded set: %w", err)
	}
	var errs []string
	for i, k := range set.Keys {
		var kty string
		_ = json.Unmarshal(k["kty"], &kty)
		allowed, ok := allowedMembers[kty]
		if !ok {
			errs = append(errs, fmt.Sprintf("key %d: kty %q", i, kty))
			continue
		}
		for name := range k {
			if !slices.Contains(allowed, name) {
				errs = append(errs, fmt.Sprintf("key %d: %q", i, name))
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%w: %s", ErrPrivateMember, strings.Join(errs, "; "))
	}
	return nil
}

// EncodeKey writes one key as a JWK object exactly as Encode writes it inside a set (same
// members, same order), checked by CheckPublicOnly the same way, with no trailing newline.
func EncodeKey(k *JWK) ([]byte, error) {
	buf, err := appendJWK(make([]byte, 0, 128+2*(len(k.N)+len(k.X)+len(k.Y))), k)
	if err != nil {
		return nil, err
	}
	doc := append(append([]byte(`{"keys":[`), buf...), "]}"...)
	if err := CheckPublicOnly(doc); err != nil {
		return nil, err
	}
	return buf, nil
}
