package served

import (
	"errors"
	"fmt"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// ErrTokenRejected is wrapped by every reason VerifyToken refuses a token.
var ErrTokenRejected = errors.New("token rejected")

// TokenResult describes a token that verified. It holds no part of the token itself.
type TokenResult struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	Issuer    string    `json:"iss,omitempty"`
	Subject   string    `json:"sub,omitempty"`
	Expires   time.Time `json:"exp"`
	NotBefore time.Time `json:"nbf,omitzero"`
}

// TokenOptions configure VerifyToken.
type TokenOptions struct {
	// Now is the clock exp and nbf are checked against; zero means time.Now.
	Now time.Time
	// Skew is the clock difference tolerated for exp and nbf.
	Skew time.Duration
}

// VerifyToken checks a compact JWS token against set the way a careful verifier would: the
// header names a kid that is in the set, the header's alg is the alg that key is published
// with (a verifier must not let the token choose), the signature verifies with that key, and
// the token carries exp and is within exp and nbf. Errors wrap ErrTokenRejected and never
// contain the token.
func VerifyToken(set *jwks.Set, token string, opts TokenOptions) (*TokenResult, error) {
	reject := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrTokenRejected, fmt.Sprintf(format, a...))
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return nil, reject("not a compact JWS (header.payload.signature)")
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, reject("token has %d signatures, want 1", len(sigs))
	}
	hdr := sigs[0].ProtectedHeaders()
	kid, alg := hdr.KeyID(), hdr.Algorithm().String()
	if kid == "" {
		return nil, reject("token header has no kid; a verifier cannot pick its key from the set")
	}
	var key *jwks.JWK
	for i := range set.Keys {
		if set.Keys[i].KID == kid {
			key = &set.Keys[i]
			break
		}
	}
	if key == nil {
		return nil, reject("kid %q is not in the set", kid)
	}
	if alg != key.Alg {
		return nil, reject("token alg %q does not match alg %s of kid %q (the key's published alg decides, never the token)", alg, key.Alg, kid)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, reject("kid %q: %v", kid, err)
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKey(jwa.SignatureAlgorithm(key.Alg), pub),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(opts.Skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired()):
		return nil, reject("kid %q: token expired (exp is before %s)", kid, now.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return nil, reject("kid %q: token not valid yet (nbf is after %s)", kid, now.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return nil, reject("kid %q: token has no exp claim; a token that never expires cannot be rotated away", kid)
	default:
		var ve jwt.ValidationError
		if errors.As(err, &ve) {
			return nil, reject("kid %q: claims: %v", kid, err)
		}
		return nil, reject("kid %q: signature does not verify with the published key", kid)
	}
	return &TokenResult{KID: kid, Alg: alg, Issuer: tok.Issuer(), Subject: tok.Subject(), Expires: tok.Expiration().UTC(), NotBefore: tok.NotBefore().UTC()}, nil
}
