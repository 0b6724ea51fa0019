package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// parseJWKReference is ParseJWK as it was before it streamed the "keys" array: the whole
// document into a map, the array into a slice of copies. FuzzParseJWKStream holds the
// streaming form to the same results.
func parseJWKReference(data []byte, origin Origin, opts Options) ([]Key, error) {
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

func FuzzParseJWKStream(f *testing.F) {
	addSeeds(f)
	for _, s := range []string{
		`{"keys":null}`, `{"keys":[]}`, `{"keys":{}}`, `{"keys":[1,null,"x",[],{}]}`,
		`{"keys":{"a":[1]},"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}],"keys":5}`,
		`{"\u006beys":[{"kty":"EC"}]}`, `{"kty":"OKP","crv":"Ed25519","x":"AAAA","keys":[]}`,
		`null`, `[]`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]} x`, ` {"kty":"oct","k":"AA"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{{}, {DerivePublic: true}} {
			got, gotErr := ParseJWK(data, Origin{Source: "fuzz"}, opts)
			want, wantErr := parseJWKReference(data, Origin{Source: "fuzz"}, opts)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: keys differ:\n got %+v\nwant %+v", data, got, want)
			}
			if (gotErr == nil) != (wantErr == nil) || errors.Is(gotErr, ErrPrivateKey) != errors.Is(wantErr, ErrPrivateKey) {
				t.Fatalf("%q: errors differ:\n got %v\nwant %v", data, gotErr, wantErr)
			}
			if wantErr != nil && strings.Count(wantErr.Error(), "\n") < ListLimit && gotErr.Error() != wantErr.Error() {
				t.Fatalf("%q: messages differ:\n got %v\nwant %v", data, gotErr, wantErr)
			}
		}
	})
}

// TestParseJWKManyBrokenKeys: a set of a hundred thousand broken keys keeps a hundred errors,
// prints twenty and counts the rest.
func TestParseJWKManyBrokenKeys(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i := range 100_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"kid":"k"}`)
	}
	b.WriteString(`]}`)
	keys, err := ParseJWK(b.Bytes(), Origin{Source: "file:big.json"}, Options{})
	var l *List
	if len(keys) != 0 || !errors.As(err, &l) || len(l.Errs) != keepLimit || l.Omitted != 100_000-keepLimit {
		t.Fatalf("keys %d, err %T", len(keys), err)
	}
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	if len(lines) != ListLimit+1 || lines[ListLimit] != "… and 99,980 more" || !strings.HasPrefix(lines[0], `file:big.json key 1: missing "kty"`) {
		t.Errorf("message:\n%s", msg)
	}
}

func TestMoreLine(t *testing.T) {
	for n, want := range map[int]string{1: "… and 1 more", 999: "… and 999 more", 1000: "… and 1,000 more", 99980: "… and 99,980 more", 1234567: "… and 1,234,567 more"} {
		if got := MoreLine(n); got != want {
			t.Errorf("MoreLine(%d) = %q, want %q", n, got, want)
		}
	}
}
