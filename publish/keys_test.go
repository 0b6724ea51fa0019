package publish

import (
	"testing"

	"github.com/jwkspub/jwkspub/sources"
)

// rfc8037X is the Ed25519 public key of RFC 8037 A.2 (the same constant as in publish/jwks).
const rfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

func parseJWK(t testing.TB, s string) sources.Key {
	t.Helper()
	keys, err := sources.ParseJWK([]byte(s), sources.Origin{Source: "test"}, sources.Options{})
	if err != nil || len(keys) != 1 {
		t.Fatalf("ParseJWK(%s): %v", s, err)
	}
	return keys[0]
}
