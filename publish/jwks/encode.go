package jwks

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

// Members a published JWK may have, as bits; allowedMask is allowedMembers in this form.
const (
	mKty uint16 = 1 << iota
	mUse
	mAlg
	mKid
	mCrv
	mN
	mE
	mX
	mY
	mX5C
	mX5T
)

// memberNames lists every member a published JWK may have, whatever its kty.
var memberNames = []string{"kty", "use", "alg", "kid", "crv", "n", "e", "x", "y", "x5c", "x5t#S256"}

// allowedMask is allowedMembers as bit sets, computed from it so the two cannot disagree.
var allowedMask = func() map[string]uint16 {
	m := make(map[string]uint16, len(allowedMembers))
	for kty, names := range allowedMembers {
		for _, n := range names {
			m[kty] |= memberBit([]byte(n))
		}
	}
	return m
}()

// memberBit is the bit of a member name, 0 for a name no published JWK may have.
func memberBit(name []byte) uint16 {
	switch string(name) { // no allocation: the compiler compares the bytes in place
	case "kty":
		return mKty
	case "use":
		return mUse
	case "alg":
		return mAlg
	case "kid":
		return mKid
	case "crv":
		return mCrv
	case "n":
		return mN
	case "e":
		return mE
	case "x":
		return mX
	case "y":
		return mY
	case "x5c":
		return mX5C
	case "x5t#S256":
		return mX5T
	}
	return 0
}

// CheckPublicOnly parses an encoded JWK Set and refuses any key member outside the public
// members of its kty, a member given twice, any unknown kty, any element of "keys" that is not
// an object, and any top-level member but "keys". It is the last check before bytes leave
// jwkspub, independent of how they were produced.
//
// It runs on every build, so it is written for ten thousand keys: json.Valid checks the syntax
// strictly, then one pass over the bytes reads member names in place (decoding them only when
// they hold escapes, so "\u0064" is seen as "d"), instead of decoding every key into a map.
func CheckPublicOnly(doc []byte) error {
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v) // for the error's position and wording
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return fmt.Errorf("re-parsing encoded set: %w", err)
	}
	w := jsonWalker{b: doc}
	if w.peek() != '{' {
		return fmt.Errorf("re-parsing encoded set: %w: the document is not a JSON object", ErrPrivateMember)
	}
	var errs []string
	sawKeys := false
	for name, esc := range w.members() {
		if n := decodeName(name, esc); n != "keys" {
			return fmt.Errorf("%w: top-level member %q", ErrPrivateMember, n)
		}
		if sawKeys {
			return fmt.Errorf("%w: top-level member \"keys\" given twice", ErrPrivateMember)
		}
		sawKeys = true
		if w.peek() != '[' {
			return fmt.Errorf("%w: \"keys\" is not an array", ErrPrivateMember)
		}
		i := 1 // positions in messages count from 1
		for range w.elements() {
			errs = checkKey(&w, i, errs)
			i++
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("%w: %s", ErrPrivateMember, strings.Join(errs, "; "))
	}
	return nil
}

// checkKey reads one element of "keys" and appends what is wrong with it to errs.
func checkKey(w *jsonWalker, i int, errs []string) []string {
	if w.peek() != '{' {
		w.skip()
		return append(errs, fmt.Sprintf("key %d: not an object", i))
	}
	var (
		seen  uint16
		kty   string
		extra []string
	)
	for name, esc := range w.members() {
		bit := memberBit(name)
		if esc {
			bit = memberBit([]byte(decodeName(name, esc)))
		}
		switch {
		case bit == 0:
			extra = append(extra, fmt.Sprintf("key %d: %q", i, decodeName(name, esc)))
		case seen&bit != 0:
			extra = append(extra, fmt.Sprintf("key %d: %q given twice", i, decodeName(name, esc)))
		}
		seen |= bit
		if bit == mKty && w.peek() == '"' {
			raw, esc := w.str()
			kty = decodeName(raw, esc)
			continue
		}
		w.skip()
	}
	allowed, ok := allowedMask[kty]
	if !ok {
		return append(errs, fmt.Sprintf("key %d: kty %q", i, kty))
	}
	errs = append(errs, extra...)
	for _, name := range memberNames {
		if bit := memberBit([]byte(name)); seen&bit != 0 && allowed&bit == 0 {
			errs = append(errs, fmt.Sprintf("key %d: %q", i, name))
		}
	}
	return errs
}

// decodeName returns a JSON string's value from its raw bytes between the quotes.
func decodeName(raw []byte, esc bool) string {
	if !esc {
		return string(raw)
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	if json.Unmarshal(q, &s) != nil {
		return string(raw)
	}
	return s
}

// jsonWalker steps through a document that json.Valid accepted; it does no syntax checking
// of its own and must not be used on anything else.
type jsonWalker struct {
	b []byte
	i int
}

func (w *jsonWalker) ws() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, 0 at the end.
func (w *jsonWalker) peek() byte {
	w.ws()
	if w.i < len(w.b) {
		return w.b[w.i]
	}
	return 0
}

// str reads a string at w.i and returns its raw bytes between the quotes, and whether they
// hold escapes.
func (w *jsonWalker) str() (raw []byte, esc bool) {
	w.i++ // the opening quote
	start := w.i
	for {
		switch w.b[w.i] {
		case '\\':
			esc = true
			w.i += 2
		case '"':
			raw = w.b[start:w.i]
			w.i++
			return raw, esc
		default:
			w.i++
		}
	}
}

// skip steps over one value.
func (w *jsonWalker) skip() {
	switch w.peek() {
	case '"':
		w.str()
	case '{', '[':
		depth := 0
		for {
			switch w.b[w.i] {
			case '"':
				w.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					w.i++
					return
				}
			}
			w.i++
		}
	default: // a number, true, false or null
		for w.i < len(w.b) && !strings.ContainsRune(",}] \t\n\r", rune(w.b[w.i])) {
			w.i++
		}
	}
}

// members iterates over the members of the object at w.i, yielding each name; the body must
// consume the member's value (skip, or read it).
func (w *jsonWalker) members() func(yield func([]byte, bool) bool) {
	return func(yield func([]byte, bool) bool) {
		w.i++ // {
		if w.peek() == '}' {
			w.i++
			return
		}
		for {
			w.peek()
			name, esc := w.str()
			w.peek() // the colon
			w.i++
			w.peek()
			if !yield(name, esc) {
				return
			}
			if w.peek() == ',' {
				w.i++
				continue
			}
			w.i++ // }
			return
		}
	}
}

// elements iterates over the elements of the array at w.i; the body must consume each element.
func (w *jsonWalker) elements() func(yield func() bool) {
	return func(yield func() bool) {
		w.i++ // [
		if w.peek() == ']' {
			w.i++
			return
		}
		for {
			w.peek()
			if !yield() {
				return
			}
			if w.peek() == ',' {
				w.i++
				continue
			}
			w.i++ // ]
			return
		}
	}
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
