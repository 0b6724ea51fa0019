//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildJwkspub builds the command once for a test.
func buildJwkspub(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwkspub")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/jwkspub/jwkspub/cmd/jwkspub").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runJwkspub runs the command with exactly env (plus PATH), in dir.
func runJwkspub(t *testing.T, bin, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestVaultCLI runs `jwkspub build` against the dev server the way a job does: the CLI reads
// VAULT_ADDR, the token from VAULT_TOKEN or ~/.vault-token, or logs in with AppRole or GitHub
// Actions credentials from the environment.
func TestVaultCLI(t *testing.T) {
	f := newAuthFixture(t)
	e := f.e
	e.write(t, f.mount+"/keys/jwt/rotate", nil)
	bin := buildJwkspub(t)
	dir := t.TempDir()
	cfg := `sets:
  - name: prod
    kid: template
    kid_template: "{{.Name}}-v{{.Version}}"
    sources:
      - ` + f.spec + `
`
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	base := []string{"HOME=" + home, "VAULT_ADDR=" + e.addr}
	wantKIDs := func(t *testing.T, doc string) {
		t.Helper()
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(doc), &set); err != nil {
			t.Fatalf("output is not a JWKS: %v\n%s", err, doc)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KID)
		}
		if strings.Join(kids, " ") != "jwt-v1 jwt-v2" {
			t.Errorf("kids %v, want jwt-v1 jwt-v2", kids)
		}
	}

	t.Run("token from ~/.vault-token", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(os.Getenv("JWKSPUB_IT_VAULT_TOKEN")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(home, ".vault-token"))
		out, errOut, code := runJwkspub(t, bin, dir, base, "build", "-o", "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantKIDs(t, out)
	})
	t.Run("token from VAULT_TOKEN", func(t *testing.T) {
		out, errOut, code := runJwkspub(t, bin, dir, append(base, "VAULT_TOKEN="+os.Getenv("JWKSPUB_IT_VAULT_TOKEN")), "build", "-o", "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantKIDs(t, out)
	})
	t.Run("no token", func(t *testing.T) {
		_, errOut, code := runJwkspub(t, bin, dir, base, "build", "-o", "-")
		if code != 1 || !strings.Contains(errOut, "no Vault token") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})

	t.Run("vault-oidc needs no token", func(t *testing.T) {
		e.oidcKey(t)
		out, errOut, code := runJwkspub(t, bin, t.TempDir(), base, "build", "--source", "vault-oidc:", "-o", "-")
		if code != 0 || !strings.Contains(out, `"keys":[`) {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})

	mount := e.enableAuth(t, "approle")
	creds := map[string][2]string{}
	for role, pol := range map[string]string{"allow": f.allowPol, "deny": f.denyPol} {
		e.write(t, "auth/"+mount+"/role/"+role, map[string]any{"token_policies": pol})
		s, err := e.root.Logical().Read("auth/" + mount + "/role/" + role + "/role-id")
		if err != nil {
			t.Fatal(err)
		}
		creds[role] = [2]string{s.Data["role_id"].(string), e.write(t, "auth/"+mount+"/role/"+role+"/secret-id", nil).Data["secret_id"].(string)}
	}
	approle := func(role string) []string {
		return append(base, "JWKSPUB_VAULT_AUTH=approle", "JWKSPUB_VAULT_AUTH_MOUNT="+mount,
			"JWKSPUB_VAULT_ROLE_ID="+creds[role][0], "JWKSPUB_VAULT_SECRET_ID="+creds[role][1])
	}
	accessors := func() int {
		t.Helper()
		s, err := e.root.Logical().List("auth/token/accessors")
		if err != nil {
			t.Fatal(err)
		}
		return len(s.Data["keys"].([]any))
	}
	t.Run("approle", func(t *testing.T) {
		before := accessors()
		out, errOut, code := runJwkspub(t, bin, dir, approle("allow"), "build", "-o", "-", "--log-level", "debug")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if after := accessors(); after != before {
			t.Errorf("%d tokens before the run, %d after: the login's token was not revoked", before, after)
		}
		if !strings.Contains(errOut, "revoked the vault token of this run") {
			t.Errorf("no revocation logged:\n%s", errOut)
		}
		wantKIDs(t, out)
		if strings.Contains(errOut+out, creds["allow"][1]) {
			t.Error("the secret id appears in the output")
		}
	})
	t.Run("approle without the key: exit 1, the 403 explained, nothing written", func(t *testing.T) {
		live := filepath.Join(dir, "jwks.json")
		os.WriteFile(live, []byte(`{"keys":[]}`), 0o644)
		_, errOut, code := runJwkspub(t, bin, dir, approle("deny"), "build", "-o", live)
		if code != 1 {
			t.Fatalf("exit %d, want 1: %s", code, errOut)
		}
		for _, want := range []string{
			f.spec + `: permission denied: ` + f.mount + `/keys/jwt: the token's policy must grant "read" on "` + f.mount + `/keys/jwt"`,
			`fix: add path "` + f.mount + `/keys/jwt" { capabilities = ["read"] } to the token's policy`,
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		if strings.Contains(errOut, creds["deny"][1]) {
			t.Error("the secret id appears in the error")
		}
		if b, _ := os.ReadFile(live); string(b) != `{"keys":[]}` {
			t.Errorf("the output was changed: %s", b)
		}
	})

	t.Run("github-actions", func(t *testing.T) {
		iss := newJWTIssuer(t)
		jwtMount := e.enableAuth(t, "jwt")
		e.write(t, "auth/"+jwtMount+"/config", map[string]any{"jwt_validation_pubkeys": []string{pemOf(t, &iss.key.PublicKey)}})
		e.write(t, "auth/"+jwtMount+"/role/publisher", map[string]any{
			"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"jwkspub-vault"}, "token_policies": f.allowPol,
		})
		reqTok := "ghs_" + vaultName("req")
		gh, _ := githubStandIn(t, reqTok, iss)
		env := append(base, "JWKSPUB_VAULT_AUTH=github-actions", "JWKSPUB_VAULT_AUTH_MOUNT="+jwtMount, "JWKSPUB_VAULT_ROLE=publisher",
			"JWKSPUB_VAULT_AUDIENCE=jwkspub-vault", "ACTIONS_ID_TOKEN_REQUEST_URL="+gh.URL+"/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN="+reqTok)
		out, errOut, code := runJwkspub(t, bin, dir, env, "build", "-o", "-", "--log-level", "debug")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantKIDs(t, out)
		if strings.Contains(errOut, reqTok) || strings.Contains(errOut, "eyJ") {
			t.Errorf("a credential appears in the log:\n%s", errOut)
		}
	})
}
