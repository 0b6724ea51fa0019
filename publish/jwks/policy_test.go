package jwks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/sources"
)

// A Transit key with many versions fills the set: the refusal points at its versions option.
func TestMaxKeysNamesVersions(t *testing.T) {
	keys := rotKeys(t, 1, 2, 3, 4).Keys
	var in []sources.Key
	for i, k := range keys {
		in = append(in, sources.Key{Kty: k.Kty, Crv: k.Crv, X: k.X, Version: i + 1,
			Origin: sources.Origin{Source: "vault-transit:transit/jwt", Location: fmt.Sprintf("version %d", i+1)}, Spec: "vault-transit:transit/jwt"})
	}
	_, err := Assemble(in, AssembleOptions{Policy: Policy{MaxKeys: 3}})
	if err == nil || !strings.Contains(err.Error(), "max-keys") ||
		!strings.Contains(err.Error(), "vault-transit:transit/jwt gives 4 versions: publish only the recent ones with `versions: N`") {
		t.Errorf("Assemble = %v", err)
	}
	_, err = Assemble(keysAsInput(rotKeys(t, 1, 2, 3, 4)), AssembleOptions{Policy: Policy{MaxKeys: 3}})
	if err == nil || strings.Contains(err.Error(), "versions:") {
		t.Errorf("a file source's refusal mentions versions: %v", err)
	}
}

// keysAsInput turns a set back into source keys.
func keysAsInput(s *Set) []sources.Key {
	var out []sources.Key
	for _, k := range s.Keys {
		out = append(out, sources.Key{Kty: k.Kty, Crv: k.Crv, X: k.X, KID: k.KID, Origin: k.Origin, Spec: k.Spec})
	}
	return out
}
