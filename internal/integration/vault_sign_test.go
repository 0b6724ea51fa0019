//go:build integration

package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// transitSignParams are the README's Transit sign parameters for each JWS alg.
var transitSignParams = map[string]map[string]any{
	"RS256": {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-256"},
	"RS384": {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-384"},
	"RS512": {"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"},
	"PS256": {"signature_algorithm": "pss", "hash_algorithm": "sha2-256", "salt_length": "hash"},
	"PS384": {"signature_algorithm": "pss", "hash_algorithm": "sha2-384", "salt_length": "hash"},
	"PS512": {"signature_algorithm": "pss", "hash_algorithm": "sha2-512", "salt_length": "hash"},
	"ES256": {"marshaling_algorithm": "jws", "hash_algorithm": "sha2-256"},
	"ES384": {"marshaling_algorithm": "jws", "hash_algorithm": "sha2-384"},
	"ES512": {"marshaling_algorithm": "jws", "hash_algorithm": "sha2-512"},
	"EdDSA": {},
}

// transitSignJWT signs claims as a JWT through MOUNT/sign/KEY at a pinned key_version, the
// way the README tells issuers to.
func (e *vaultEnv) transitSignJWT(t *testing.T, mount, key string, version int, alg, kid string, params map[string]any) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	now := time.Now().Unix()
	claims, _ := json.Marshal(map[string]any{"iss": "https://issuer.test", "sub": "user-1", "aud": "verifiers", "iat": now, "exp": now + 300})
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(claims)
	body := map[string]any{"input": base64.StdEncoding.EncodeToString([]byte(input)), "key_version": version}
	for k, v := range params {
		body[k] = v
	}
	s := e.write(t, mount+"/sign/"+key, body)
	sig, _ := s.Data["signature"].(string)
	prefix := fmt.Sprintf("vault:v%d:", version)
	if !strings.HasPrefix(sig, prefix) {
		t.Fatalf("signature %q does not start with %s", sig, prefix)
	}
	raw, err := decodeAnyBase64(strings.TrimPrefix(sig, prefix))
	if err != nil {
		t.Fatalf("signature encoding: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(raw)
}

// decodeAnyBase64 reads Transit's signature: standard base64, or base64url with
// marshaling_algorithm=jws.
func decodeAnyBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("not base64: %q", s)
}

type signedToken struct {
	Alg   string `json:"alg"`
	Token string `json:"token"`
}

const pyjwtVerifier = `
import json, sys, jwt
doc = json.load(open(sys.argv[1]))
keys = {k["kid"]: jwt.PyJWK.from_dict(k) for k in doc["jwks"]["keys"]}
for t in doc["tokens"]:
    try:
        kid = jwt.get_unverified_header(t["token"])["kid"]
        jwt.decode(t["token"], keys[kid].key, algorithms=[t["alg"]], audience="verifiers")
        print("ok")
    except Exception as e:
        print("fail: %s: %s" % (type(e).__name__, e))
`

const joseVerifier = `
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');
const fs = require('node:fs');
(async () => {
  const req = createRequire(process.argv[2] + '/');
  const jose = await import(pathToFileURL(req.resolve('jose')).href);
  const doc = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const set = jose.createLocalJWKSet(doc.jwks);
  for (const t of doc.tokens) {
    try {
      await jose.jwtVerify(t.token, set, { algorithms: [t.alg], audience: 'verifiers' });
      console.log('ok');
    } catch (e) {
      console.log('fail: ' + (e.code || e.name) + ': ' + e.message);
    }
  }
})();
`

// externalVerify runs PyJWT or node jose over tokens and returns one line per token.
func externalVerify(t *testing.T, which string, jwks []byte, tokens []signedToken) []string {
	t.Helper()
	dir := t.TempDir()
	doc, _ := json.Marshal(map[string]any{"jwks": json.RawMessage(jwks), "tokens": tokens})
	docPath := filepath.Join(dir, "doc.json")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch which {
	case "pyjwt":
		py := os.Getenv("JWKSPUB_PYTHON")
		if py == "" {
			t.Fatal("JWKSPUB_PYTHON is not set: run .ci/services.sh start (it installs python3-jwt)")
		}
		script := filepath.Join(dir, "verify.py")
		os.WriteFile(script, []byte(pyjwtVerifier), 0o600)
		cmd = exec.Command(py, script, docPath)
	case "jose":
		mods := os.Getenv("JWKSPUB_NODE_MODULES")
		if mods == "" {
			t.Fatal("JWKSPUB_NODE_MODULES is not set: run .ci/services.sh start (it installs jose)")
		}
		script := filepath.Join(dir, "verify.cjs")
		os.WriteFile(script, []byte(joseVerifier), 0o600)
		cmd = exec.Command("node", script, mods, docPath)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", which, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(tokens) {
		t.Fatalf("%s printed %d lines for %d tokens:\n%s", which, len(lines), len(tokens), out)
	}
	return lines
}

// TestVaultTransitSignRoundTrip signs a token with every JWS alg through Transit, using the
// README's parameters and a pinned older key_version, and verifies it against the JWKS jwkspub
// builds from the same Transit keys: with Go (jwx), PyJWT and node jose.
func TestVaultTransitSignRoundTrip(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	v := &vault.Vault{Client: e.root}
	cases := []struct{ alg, keyType string }{
		{"RS256", "rsa-2048"}, {"RS384", "rsa-3072"}, {"RS512", "rsa-2048"},
		{"PS256", "rsa-2048"}, {"PS384", "rsa-3072"}, {"PS512", "rsa-4096"},
		{"ES256", "ecdsa-p256"}, {"ES384", "ecdsa-p384"}, {"ES512", "ecdsa-p521"},
		{"EdDSA", "ed25519"},
	}
	var keys []sources.Key
	for _, c := range cases {
		name := strings.ToLower(c.alg)
		e.write(t, mount+"/keys/"+name, map[string]any{"type": c.keyType})
		e.write(t, mount+"/keys/"+name+"/rotate", nil) // version 2 exists; signers stay pinned to 1
		keys = append(keys, vaultKeys(t, vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/" + name, Alg: c.alg}))...)
	}
	set := vaultAssemble(t, keys, "{{.Name}}-v{{.Version}}")
	doc, err := jwks.Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2*len(cases) {
		t.Fatalf("%d keys published, want %d", len(set.Keys), 2*len(cases))
	}
	goSet, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}

	// The code's table (used by verify --vault-sign-test) is the README's.
	for alg, want := range transitSignParams {
		if got, err := vault.TransitSignParams(alg); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("vault.TransitSignParams(%s) = %v, %v; the README says %v", alg, got, err, want)
		}
	}
	var tokens []signedToken
	for _, c := range cases {
		name := strings.ToLower(c.alg)
		tok := e.transitSignJWT(t, mount, name, 1, c.alg, name+"-v1", transitSignParams[c.alg])
		tokens = append(tokens, signedToken{Alg: c.alg, Token: tok})
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(goSet), jwt.WithAudience("verifiers")); err != nil {
			t.Errorf("%s: Go (jwx) rejects the token: %v", c.alg, err)
		}
	}
	// PS256 with Vault's default salt length (the maximum): Go accepts it, the others must not,
	// which is why the README insists on salt_length=hash.
	maxSalt := e.transitSignJWT(t, mount, "ps256", 1, "PS256", "ps256-v1", map[string]any{"signature_algorithm": "pss", "hash_algorithm": "sha2-256"})
	if _, err := jwt.Parse([]byte(maxSalt), jwt.WithKeySet(goSet), jwt.WithAudience("verifiers")); err != nil {
		t.Errorf("Go rejects PS256 with the maximum salt (expected to accept): %v", err)
	}
	// A token whose kid names the wrong version must fail: the kid is what ties a version to
	// its published key.
	wrongKID := e.transitSignJWT(t, mount, "es256", 1, "ES256", "es256-v2", transitSignParams["ES256"])
	if _, err := jwt.Parse([]byte(wrongKID), jwt.WithKeySet(goSet), jwt.WithAudience("verifiers")); err == nil {
		t.Error("Go accepted a token signed by version 1 under version 2's kid")
	}

	// The probes `verify --vault-sign-test` signs (vault.Transit.SignJWT), at version 2.
	var probes []signedToken
	for _, c := range cases {
		name := strings.ToLower(c.alg)
		tr := vaultSource(t, v, sources.Spec{Spec: "vault-transit:" + mount + "/" + name, Alg: c.alg}).(*vault.Transit)
		now := time.Now().Unix()
		tok, err := tr.SignJWT(context.Background(), 2, c.alg, name+"-v2", map[string]any{"iss": "https://issuer.test", "aud": "verifiers", "iat": now, "exp": now + 300})
		if err != nil {
			t.Fatalf("SignJWT %s: %v", c.alg, err)
		}
		probes = append(probes, signedToken{Alg: c.alg, Token: tok})
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(goSet), jwt.WithAudience("verifiers")); err != nil {
			t.Errorf("%s: Go (jwx) rejects the SignJWT probe: %v", c.alg, err)
		}
	}

	all := append(append([]signedToken{}, tokens...), signedToken{Alg: "PS256", Token: maxSalt}, signedToken{Alg: "ES256", Token: wrongKID})
	all = append(all, probes...)
	for _, verifier := range []string{"pyjwt", "jose"} {
		t.Run(verifier, func(t *testing.T) {
			lines := externalVerify(t, verifier, doc, all)
			for i, c := range cases {
				if lines[i] != "ok" {
					t.Errorf("%s rejects the %s token: %s", verifier, c.alg, lines[i])
				}
			}
			t.Logf("%s on PS256 with the maximum salt: %s; on the wrong kid: %s", verifier, lines[len(cases)], lines[len(cases)+1])
			if got := lines[len(cases)]; got == "ok" {
				t.Errorf("%s accepted PS256 with Vault's default (maximum) salt length; the README says it rejects it", verifier)
			}
			if got := lines[len(cases)+1]; got == "ok" {
				t.Errorf("%s accepted a token under the wrong version's kid", verifier)
			}
			for i, c := range cases {
				if got := lines[len(cases)+2+i]; got != "ok" {
					t.Errorf("%s rejects the %s probe of verify --vault-sign-test: %s", verifier, c.alg, got)
				}
			}
		})
	}
}
