package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
)

// TransitSignParams returns the parameters of Transit's sign endpoint that produce a JWS
// signature for alg (the README's table). PS* use salt_length=hash: Vault's default salt is
// the maximum length, which Go accepts but PyJWT, node jose and most other verifiers reject.
// ES* use marshaling_algorithm=jws for the raw r||s signature JWS needs instead of ASN.1.
func TransitSignParams(alg string) (map[string]any, error) {
	hash := map[string]string{"256": "sha2-256", "384": "sha2-384", "512": "sha2-512"}
	switch {
	case alg == "EdDSA":
		return map[string]any{}, nil
	case len(alg) == 5 && hash[alg[2:]] != "":
		h := hash[alg[2:]]
		switch alg[:2] {
		case "RS":
			return map[string]any{"signature_algorithm": "pkcs1v15", "hash_algorithm": h}, nil
		case "PS":
			return map[string]any{"signature_algorithm": "pss", "hash_algorithm": h, "salt_length": "hash"}, nil
		case "ES":
			return map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": h}, nil
		}
	}
	return nil, fmt.Errorf("alg %q has no Transit sign parameters (RS*, PS*, ES*, EdDSA)", alg)
}

// SignJWT signs claims as a compact JWT through MOUNT/sign/KEY with the given key version,
// alg and kid, using TransitSignParams. It is the probe of `jwkspub verify --vault-sign-test`
// and needs "update" on MOUNT/sign/KEY, which a publisher's own policy should not grant.
func (t *Transit) SignJWT(ctx context.Context, version int, alg, kid string, claims map[string]any) (string, error) {
	params, err := TransitSignParams(alg)
	if err != nil {
		return "", err
	}
	if err := t.Vault.ready(ctx); err != nil {
		return "", err
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
	body := map[string]any{"input": base64.StdEncoding.EncodeToString([]byte(input)), "key_version": version}
	for k, v := range params {
		body[k] = v
	}
	path := t.Mount + "/sign/" + t.Name
	sec, err := call(ctx, t.Vault, vaultOp{path: path, capability: "update"}, func(ctx context.Context) (*api.Secret, error) {
		return t.Vault.Client.Logical().WriteWithContext(ctx, path, body)
	})
	if err != nil {
		return "", err
	}
	var sig string
	if sec != nil {
		sig, _ = sec.Data["signature"].(string)
	}
	prefix := fmt.Sprintf("vault:v%d:", version)
	if !strings.HasPrefix(sig, prefix) {
		return "", vErr(ErrVaultResponse, "", "%s: the answer has no signature for version %d", path, version)
	}
	raw, err := decodeSignature(strings.TrimPrefix(sig, prefix))
	if err != nil {
		return "", vErr(ErrVaultResponse, "", "%s: signature is not base64", path)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(raw), nil
}

// decodeSignature reads Transit's signature: standard base64, or base64url with
// marshaling_algorithm=jws.
func decodeSignature(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}
