package awskms

import (
	"context"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// SigningAlgorithm is the KMS signing algorithm that makes a JWS signature of alg (RS*, PS*,
// ES*, EdDSA), or "" for any other alg. KMS's RSASSA_PSS_* use a salt as long as the hash,
// which every JOSE verifier expects.
func SigningAlgorithm(alg string) types.SigningAlgorithmSpec { return algSpec(alg) }

// ecdsaSize is the byte length of r and s in a JWS ES* signature (RFC 7518 §3.4).
var ecdsaSize = map[string]int{"ES256": 32, "ES384": 48, "ES512": 66}

// Newest is the key a signer uses now: the last the spec lists (an alias, usually).
func (s *Source) Newest() string { return s.KeyRefs[len(s.KeyRefs)-1] }

// SignJWT signs claims as a compact JWT with KMS Sign on key (an id, ARN or alias), with the
// given alg and kid in the header. It is the probe of `jwkspub verify --sign-test` and needs
// kms:Sign on the key, which a publisher's own role should not have.
func (s *Source) SignJWT(ctx context.Context, key, alg, kid string, claims map[string]any) (string, error) {
	spec := algSpec(alg)
	if spec == "" {
		return "", fmt.Errorf("alg %q has no KMS signing algorithm (RS*, PS*, ES*, EdDSA)", alg)
	}
	region := s.region()
	if region == "" {
		return "", errors.New("no AWS region: set AWS_REGION, or add ?region= to the spec")
	}
	hdr, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	out, err := s.KMS.client(region, s.Endpoint).Sign(ctx, &kms.SignInput{
		KeyId: aws.String(key), Message: []byte(input), MessageType: types.MessageTypeRaw, SigningAlgorithm: spec,
	})
	if err != nil {
		ke := classify(err, "kms:Sign", key, region, s.KMS.timeout())
		return "", fmt.Errorf("%w (fix: %s)", ke, ke.fix)
	}
	sig := out.Signature
	if n, ok := ecdsaSize[alg]; ok {
		// KMS returns ECDSA signatures DER-encoded; JWS wants r and s, fixed width, concatenated.
		if sig, err = rawECDSA(sig, n); err != nil {
			return "", fmt.Errorf("kms:Sign %s: %w", key, err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// rawECDSA turns a DER ECDSA signature into r||s, each n bytes.
func rawECDSA(der []byte, n int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) > 0 || rs.R == nil || rs.S == nil || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		return nil, errors.New("the signature is not a DER ECDSA signature")
	}
	if (rs.R.BitLen()+7)/8 > n || (rs.S.BitLen()+7)/8 > n {
		return nil, fmt.Errorf("the signature does not fit %d-byte r and s", n)
	}
	out := make([]byte, 2*n)
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}
