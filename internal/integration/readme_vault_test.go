//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the here-document body the README feeds to `vault ... - <<'TAG'`.
func readmeBlock(t *testing.T, cmd, tag string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(cmd+" - <<'"+tag+"'") + "\n(.*?)\n" + tag + "\n")
	m := re.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("README has no %q here-document %s", cmd, tag)
	}
	return m[1]
}

// TestReadmeVaultRole applies the README's Vault policy and JWT role, as written (ORG/REPO
// filled in, the Transit mount renamed), to the real dev server, and checks what the README
// claims: the job's token for the bound subject and audience logs in and can read the public
// keys; it cannot sign or export; a token for another repository, environment or audience is
// refused. The auth mount trusts a local issuer key instead of GitHub's discovery URL, which
// this machine cannot reach.
func TestReadmeVaultRole(t *testing.T) {
	e := newVaultEnv(t)
	transit := e.mount(t, "transit", nil)
	e.write(t, transit+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})

	fill := strings.NewReplacer("ORG/REPO", "acme/keys", "https://github.com/ORG", "https://github.com/acme")
	policy := strings.ReplaceAll(readmeBlock(t, "vault policy write jwks-read", "HCL"), `path "transit/`, `path "`+transit+`/`)
	pol := vaultName("jwks-read")
	if err := e.root.Sys().PutPolicy(pol, policy); err != nil {
		t.Fatalf("the README's policy: %v", err)
	}
	t.Cleanup(func() { _ = e.root.Sys().DeletePolicy(pol) })

	var role map[string]any
	if err := json.Unmarshal([]byte(fill.Replace(readmeBlock(t, "vault write auth/jwt/role/jwks-publisher", "JSON"))), &role); err != nil {
		t.Fatalf("the README's role is not JSON: %v", err)
	}
	role["token_policies"] = []string{pol}
	iss := newJWTIssuer(t)
	mount := e.enableAuth(t, "jwt")
	e.write(t, "auth/"+mount+"/config", map[string]any{
		"jwt_validation_pubkeys": []string{pemOf(t, &iss.key.PublicKey)},
		"bound_issuer":           "https://token.actions.githubusercontent.com",
	})
	e.write(t, "auth/"+mount+"/role/jwks-publisher", role)

	login := func(sub, aud string) (string, error) {
		c := vaultClient(t, e.addr, "")
		s, err := c.Logical().Write("auth/"+mount+"/login", map[string]any{
			"role": "jwks-publisher", "jwt": iss.sign(t, aud, map[string]any{"sub": sub}),
		})
		if err != nil {
			return "", err
		}
		return s.Auth.ClientToken, nil
	}
	tok, err := login("repo:acme/keys:environment:jwks", "https://github.com/acme")
	if err != nil {
		t.Fatalf("the bound subject and audience: %v", err)
	}
	c := vaultClient(t, e.addr, tok)
	if s, err := c.Logical().Read(transit + "/keys/jwt"); err != nil || s == nil || s.Data["keys"] == nil {
		t.Errorf("reading the public keys: %v", err)
	}
	for _, p := range []string{transit + "/sign/jwt", transit + "/keys/jwt/rotate"} {
		if _, err := c.Logical().Write(p, map[string]any{"input": "aGk="}); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s with the publisher's token: %v, want permission denied", p, err)
		}
	}
	if _, err := c.Logical().Read(transit + "/export/signing-key/jwt"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("export with the publisher's token: %v, want permission denied", err)
	}
	for _, tc := range []struct{ sub, aud string }{
		{"repo:evil/fork:environment:jwks", "https://github.com/acme"},
		{"repo:acme/keys:ref:refs/heads/feature", "https://github.com/acme"},
		{"repo:acme/keys:environment:jwks", "https://github.com/evil"},
	} {
		if _, err := login(tc.sub, tc.aud); err == nil {
			t.Errorf("sub %s aud %s logged in", tc.sub, tc.aud)
		}
	}
}
