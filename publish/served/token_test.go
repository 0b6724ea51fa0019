package served

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
)

// tokenKeys makes one key of each kind and the set that publishes them.
func tokenKeys(t *testing.T) (map[string]crypto.Signer, *jwks.Set) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, okp, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signers := map[string]crypto.Signer{"rsa": rk, "ec": ek, "ed": okp}
	var keys []sources.Key
	for _, kid := range []string{"rsa", "ec", "ed"} {
		k, err := sources.FromPublicKey(signers[kid].Public())
		if err != nil {
			t.Fatal(err)
		}
		k.KID = kid
		keys = append(keys, k)
	}
	set, err := jwks.Assemble(keys, jwks.AssembleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return signers, set
}

func sign(t *testing.T, key crypto.Signer, alg jwa.SignatureAlgorithm, kid string, exp, nbf time.Time) string {
	t.Helper()
	tok := jwt.New()
	_ = tok.Set(jwt.IssuerKey, "https://auth.example.com")
	_ = tok.Set(jwt.SubjectKey, "user-1")
	if !exp.IsZero() {
		_ = tok.Set(jwt.ExpirationKey, exp)
	}
	if !nbf.IsZero() {
		_ = tok.Set(jwt.NotBeforeKey, nbf)
	}
	hdr := jws.NewHeaders()
	if kid != "" {
		_ = hdr.Set(jws.KeyIDKey, kid)
	}
	out, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestVerifyToken(t *testing.T) {
	signers, set := tokenKeys(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	// A token signed by a key that is not in the set, under a kid that is.
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  string // "" = verifies
	}{
		{"RS256", sign(t, signers["rsa"], jwa.RS256, "rsa", later, time.Time{}), ""},
		{"ES256 with nbf", sign(t, signers["ec"], jwa.ES256, "ec", later, earlier), ""},
		{"EdDSA", sign(t, signers["ed"], jwa.EdDSA, "ed", later, time.Time{}), ""},
		{"expired", sign(t, signers["ec"], jwa.ES256, "ec", earlier, time.Time{}), "token expired"},
		{"not yet valid", sign(t, signers["ec"], jwa.ES256, "ec", later.Add(time.Hour), later), "not valid yet"},
		{"no exp", sign(t, signers["ec"], jwa.ES256, "ec", time.Time{}, time.Time{}), "no exp claim"},
		{"alg other than the key's", sign(t, signers["rsa"], jwa.PS256, "rsa", later, time.Time{}), `token alg "PS256" does not match alg RS256 of kid "rsa"`},
		{"unknown kid", sign(t, signers["ec"], jwa.ES256, "gone", later, time.Time{}), `kid "gone" is not in the set`},
		{"no kid", sign(t, signers["ec"], jwa.ES256, "", later, time.Time{}), "no kid"},
		{"wrong key", sign(t, stranger, jwa.ES256, "ec", later, time.Time{}), "signature does not verify"},
		{"not a JWS", "not.a.token", "not a compact JWS"},
		{"empty", "", "not a compact JWS"},
	}
	// alg none with a kid from the set must never pass.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"ec"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, later.Unix()))) + "."
	tests = append(tests, struct{ name, token, want string }{"alg none", none, "token rejected"})
	// A tampered payload.
	good := sign(t, signers["ed"], jwa.EdDSA, "ed", later, time.Time{})
	parts := strings.Split(good, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d,"sub":"admin"}`, later.Unix())))
	tests = append(tests, struct{ name, token, want string }{"tampered", strings.Join(parts, "."), "signature does not verify"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := VerifyToken(set, tt.token, TokenOptions{Now: now})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("VerifyToken: %v", err)
				}
				if res.Subject != "user-1" || !res.Expires.Equal(later) {
					t.Errorf("result = %+v", res)
				}
				return
			}
			if !errors.Is(err, ErrTokenRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrTokenRejected with %q", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error echoes the token")
			}
		})
	}
	// Skew tolerates a token that expired a moment ago.
	if _, err := VerifyToken(set, sign(t, signers["ec"], jwa.ES256, "ec", now.Add(-time.Second), time.Time{}), TokenOptions{Now: now, Skew: time.Minute}); err != nil {
		t.Errorf("skew: %v", err)
	}
}
