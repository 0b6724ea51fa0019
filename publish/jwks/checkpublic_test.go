package jwks

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// checkPublicOnlyMaps is the straightforward form of CheckPublicOnly (decode every key into a
// map), kept as the oracle the lean one is fuzzed against.
func checkPublicOnlyMaps(doc []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return err
	}
	for name := range top {
		if name != "keys" {
			return errors.New("top-level member")
		}
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return err
	}
	for _, k := range set.Keys {
		var kty string
		_ = json.Unmarshal(k["kty"], &kty)
		allowed, ok := allowedMembers[kty]
		if !ok {
			return errors.New("kty")
		}
		for name := range k {
			if !slices.Contains(allowed, name) {
				return errors.New("member")
			}
		}
	}
	return nil
}

func TestCheckPublicOnlyStrict(t *testing.T) {
	ec := `"kty":"EC","crv":"P-256","x":"AA","y":"AA"`
	for _, tt := range []struct {
		doc  string
		want string // "" = accepted
	}{
		{`{"keys":[{` + ec + `}]}`, ""},
		{` { "keys" : [ { "kty" : "OKP" , "crv" : "Ed25519" , "x" : "AA" , "x5c" : [ "a" , "b" ] } ] } `, ""},
		{`{"keys":[]}`, ""},
		{`{}`, ""},
		{`{"keys":[{` + ec + `,"\u0064":"AA"}]}`, `key 1: "d"`},
		{`{"keys":[{"k\u0074y":"RSA","n":"AA","e":"AQAB","x":"AA"}]}`, `key 1: "x"`},
		{`{"keys":[{"kty":"\u004fKP","crv":"Ed25519","x":"AA"}]}`, ""},
		{`{"keys":[{` + ec + `,"x":"AA"}]}`, `key 1: "x" given twice`},
		{`{"keys":[{` + ec + `},{` + ec + `,"d":"AA"},{"kty":"oct","k":"AA"}]}`, `key 2: "d"; key 3: kty "oct"`},
		{`{"keys":[{"kty":"RSA","n":"AA","e":"AQAB","crv":"P-256"}]}`, `key 1: "crv"`},
		{`{"keys":[null]}`, `key 1: not an object`},
		{`{"keys":[{"kty":5}]}`, `key 1: kty ""`},
		{`{"keys":null}`, `"keys" is not an array`},
		{`{"keys":{}}`, `"keys" is not an array`},
		{`{"keys":[],"keys":[]}`, `given twice`},
		{`{"keys":[],"d":"x"}`, `top-level member "d"`},
		{`[{"keys":[]}]`, `not a JSON object`},
		{`{"keys":[{` + ec + `}]} x`, `re-parsing encoded set`},
		{`{"keys":[{` + ec + `,}]}`, `re-parsing encoded set`},
		{``, `re-parsing encoded set`},
	} {
		err := CheckPublicOnly([]byte(tt.doc))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPublicOnly(%s) = %v, want ok", tt.doc, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckPublicOnly(%s) = %v, want %q", tt.doc, err, tt.want)
		}
	}
}

// FuzzCheckPublicOnly checks the lean CheckPublicOnly against the map-based oracle: it may be
// stricter (duplicate members, "keys" that is null, non-object elements) but never laxer, and
// it never panics on anything, however malformed.
func FuzzCheckPublicOnly(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`,
		`{"keys":[{"kty":"RSA","n":"AA","e":"AQAB","d":"AA"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA","x5c":["AA"],"x5t#S256":"AA"}]}`,
		`{"keys":[{"kty":"oct","k":"AA"}],"other":{"a":[1,2.5e3,true,null,"\"\\"]}}`,
		`{"keys":[{"\u006b\u0074\u0079":"EC","\u0064":"AA"}]}`,
		`{"keys":[null,1,"x",[],{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got := CheckPublicOnly(doc)
		want := checkPublicOnlyMaps(doc)
		if got == nil && want != nil {
			t.Fatalf("lean check accepted what the oracle refuses (%v): %q", want, doc)
		}
		if got != nil && want == nil {
			msg := got.Error()
			if !strings.Contains(msg, "given twice") && !strings.Contains(msg, "not an array") && !strings.Contains(msg, "not an object") {
				t.Fatalf("lean check refused what the oracle accepts: %v: %q", got, doc)
			}
		}
	})
}

// TestSmallIntegers checks the allocation-free RSA size and exponent readers against math/big.
func TestSmallIntegers(t *testing.T) {
	for _, b := range [][]byte{
		nil, {0}, {0, 0}, {1}, {0, 1}, {1, 0, 1}, {3}, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x80, 0, 0, 0, 0, 0, 0, 0}, {0, 0x80, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, bytes.Repeat([]byte{0xff}, 256),
	} {
		n := new(big.Int).SetBytes(b)
		if got := bitLen(b); got != n.BitLen() {
			t.Errorf("bitLen(%x) = %d, want %d", b, got, n.BitLen())
		}
		v, ok := smallInt(b)
		if ok != n.IsInt64() || ok && v != n.Int64() {
			t.Errorf("smallInt(%x) = %d, %v, want %d, %v", b, v, ok, n.Int64(), n.IsInt64())
		}
	}
}
