package served

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jwkspub/jwkspub/publish/jwks"
)

// DiscoveryPath is where the OIDC discovery document lives, beside the JWKS.
const DiscoveryPath = ".well-known/openid-configuration"

// Discovery is the OpenID Connect discovery document of an issuer that only publishes keys,
// with the fields Kubernetes service-account issuers and self-hosted IRSA setups publish.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// DefaultJWKSURI is the jwks_uri for an issuer when the target has no public URL of its own.
func DefaultJWKSURI(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/jwks.json"
}

// EncodeDiscovery builds the discovery document for set, deterministically (algs sorted,
// fixed field order, trailing newline). jwksURI must be an absolute https URL (http only on
// loopback), because verifiers follow it.
func EncodeDiscovery(issuer, jwksURI string, set *jwks.Set) ([]byte, error) {
	if err := ValidateIssuer(issuer); err != nil {
		return nil, fmt.Errorf("discovery document: issuer %w", err)
	}
	u, err := url.Parse(jwksURI)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("discovery document: jwks_uri %q is not an absolute URL", jwksURI)
	}
	var algs []string
	for _, k := range set.Keys {
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	slices.Sort(algs)
	d := Discovery{
		Issuer:                           issuer,
		JWKSURI:                          jwksURI,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: algs,
		ClaimsSupported:                  []string{"sub", "iss"},
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	return append(out, '\n'), nil
}
