package sources

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for every parser of untrusted input: they must never panic, and whatever they
// return must be usable (an error always names its origin; a key always has a kty).

func addSeeds(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob("../examples/keys/*")
	more, _ := filepath.Glob("testdata/seeds/*")
	diagnosed, _ := filepath.Glob("testdata/keys/*") // RSA-PSS, compressed points
	for _, p := range append(append(files, more...), diagnosed...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["AAAA"]}]}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","key_ops":["sign","verify"]}`))
	f.Add([]byte(`{"kty":"RSA","n":"sXch","e":"AQAB","d":"AQ","p":"AQ","q":"AQ"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","key_ops":"verify","kid":""}`))
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("\xef\xbb\xbf{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}"))
	f.Add([]byte("\xef\xbb\xbf\n\n# comment\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x\n"))
	f.Add([]byte("-----BEGIN RSA-PSS PUBLIC KEY-----\nMAA=\n-----END RSA-PSS PUBLIC KEY-----\n"))
	// A PUBLIC KEY block holding only an RSASSA-PSS algorithm identifier and an empty key.
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMBIwCwYJKoZIhvcNAQEKAwMAAgM=\n-----END PUBLIC KEY-----\n"))
}

func checkParsed(t *testing.T, keys []Key, err error) {
	for _, k := range keys {
		if k.Kty == "" {
			t.Fatalf("key without kty: %+v", k)
		}
		for _, m := range k.Members {
			if IsPrivateMember(m) {
				t.Fatalf("private member %q kept without DerivePublic", m)
			}
		}
	}
	var se *Error
	if err != nil && !errors.As(err, &se) {
		t.Fatalf("error %v is not a *sources.Error", err)
	}
	if err != nil && (strings.Contains(err.Error(), "{optional:") || strings.Contains(err.Error(), "asn1: ")) {
		t.Fatalf("error prints encoding/asn1 internals: %v", err)
	}
}

// FuzzParse is the entry point of file sources: format detection, then every parser.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := Parse(data, Origin{Source: "fuzz"}, Options{})
		checkParsed(t, keys, err)
	})
}

func FuzzParsePEM(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePEM(data, Origin{Source: "fuzz"}, Options{})
		checkParsed(t, keys, err)
	})
}

func FuzzParseJWK(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWK(data, Origin{Source: "fuzz"}, Options{})
		checkParsed(t, keys, err)
		// With --derive-public the private part is checked against the public one.
		keys, err = ParseJWK(data, Origin{Source: "fuzz"}, Options{DerivePublic: true})
		checkParsed(t, keys, err)
	})
}

func FuzzParseEnvValue(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----`))
	f.Add([]byte("LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseEnvValue(string(data), Origin{Source: "fuzz"}, Options{})
		checkParsed(t, keys, err)
	})
}
