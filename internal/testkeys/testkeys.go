// Package testkeys makes the small key sets the tests of publish and publish/rotation share.
// Only tests import it.
package testkeys

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// Rot is an Ed25519 set from seeds, every key from one configured source ("file:keys/*.pem")
// so that a new key supersedes the older ones. Kids are k<seed>, so tests read easily.
func Rot(t testing.TB, seeds ...byte) *jwks.Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, KID: fmt.Sprintf("k%d", s),
			Origin: sources.Origin{Source: fmt.Sprintf("file:keys/k%d.pem", s), Location: "block 1"}})
	}
	set, err := jwks.Assemble(keys, jwks.AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Keys {
		set.Keys[i].Spec = "file:keys/*.pem"
	}
	return set
}

// Ordered is Rot with each key's place in its source's order: the seed, as a Transit version
// would be.
func Ordered(t testing.TB, seeds ...byte) *jwks.Set {
	t.Helper()
	set := Rot(t, seeds...)
	for i := range set.Keys {
		fmt.Sscanf(set.Keys[i].KID, "k%d", &set.Keys[i].Order)
	}
	return set
}

// Thumbprinted is an Ed25519 set from seeds with RFC 7638 thumbprints as kids, each key from
// its own source ("test:<seed>").
func Thumbprinted(t testing.TB, seeds ...byte) *jwks.Set {
	t.Helper()
	var keys []sources.Key
	for _, s := range seeds {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{s}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
		keys = append(keys, sources.Key{Kty: sources.KtyOKP, Crv: "Ed25519", X: pub, Origin: sources.Origin{Source: fmt.Sprintf("test:%d", s)}})
	}
	set, err := jwks.Assemble(keys, jwks.AssembleOptions{KID: jwks.KIDThumbprint})
	if err != nil {
		t.Fatal(err)
	}
	return set
}
