//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// authFixture is a Transit key and two policies: one granting read on exactly that key, one
// granting read on another key only.
type authFixture struct {
	e                 *vaultEnv
	mount             string // transit mount
	spec              string // vault-transit:MOUNT/jwt
	allowPol, denyPol string
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	e := newVaultEnv(t)
	f := &authFixture{e: e, mount: e.mount(t, "transit", nil)}
	f.spec = "vault-transit:" + f.mount + "/jwt"
	e.write(t, f.mount+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})
	f.allowPol, f.denyPol = vaultName("allow"), vaultName("deny")
	if err := e.root.Sys().PutPolicy(f.allowPol, fmt.Sprintf(`path "%s/keys/jwt" { capabilities = ["read"] }`, f.mount)); err != nil {
		t.Fatal(err)
	}
	if err := e.root.Sys().PutPolicy(f.denyPol, fmt.Sprintf(`path "%s/keys/other" { capabilities = ["read"] }`, f.mount)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.root.Sys().DeletePolicy(f.allowPol)
		_ = e.root.Sys().DeletePolicy(f.denyPol)
	})
	return f
}

// anon is a client with no token, as a job starts before it logs in.
func (f *authFixture) anon(t *testing.T) *api.Client {
	c := vaultClient(t, f.e.addr, "")
	c.ClearToken()
	return c
}

// read logs in with login and reads the Transit key; it checks no secret reached the error or
// the log.
func (f *authFixture) read(t *testing.T, login *vault.VaultLogin, secrets ...string) ([]sources.Key, error) {
	t.Helper()
	logger, buf := captureLog()
	v := &vault.Vault{Client: f.anon(t), Login: login, Logger: logger, Retries: -1}
	keys, err := vaultSource(t, v, sources.Spec{Spec: f.spec}).Keys(context.Background())
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("error reveals a credential: %v", err)
		}
		if strings.Contains(buf.String(), s) {
			t.Errorf("log reveals a credential: %s", buf)
		}
	}
	if tok := v.Client.Token(); tok != "" && strings.Contains(buf.String(), tok) {
		t.Errorf("log reveals the Vault token: %s", buf)
	}
	return keys, err
}

// manyPolicies is pol and 40 more policy names (Vault attaches names with no policy behind
// them): a role with 41 policies has a login answer of about 3.3 KB, several TCP segments.
func manyPolicies(pol string) []string {
	out := []string{pol}
	for i := range 40 {
		out = append(out, fmt.Sprintf("jwkspub-padding-policy-%02d", i))
	}
	return out
}

// overSlowNetworks logs in with login() and reads the key through a proxy that delivers
// Vault's answers as a slow network does, several times per shape of network, each run ending
// with Close as the CLI does; every token Vault issued must then be revoked.
func (f *authFixture) overSlowNetworks(t *testing.T, login func() *vault.VaultLogin) {
	t.Helper()
	for _, net := range slowNetworks {
		t.Run(net.name, func(t *testing.T) {
			p := newVaultProxy(t, f.e.addr, nil, &net.shape)
			const runs = 5
			for i := range runs {
				c := vaultClient(t, p.URL, "")
				c.ClearToken()
				// No retries: each login must succeed the first time.
				v := &vault.Vault{Client: c, Login: login(), Retries: -1}
				keys, err := vaultSource(t, v, sources.Spec{Spec: f.spec}).Keys(context.Background())
				if err != nil || len(keys) != 1 {
					t.Fatalf("run %d: %d keys, %v", i+1, len(keys), err)
				}
				if err := v.Close(context.Background()); err != nil {
					t.Fatalf("run %d: close: %v", i+1, err)
				}
			}
			tokens := p.tokens()
			if len(tokens) != runs {
				t.Fatalf("%d tokens issued through the proxy, want %d", len(tokens), runs)
			}
			f.e.revoked(t, tokens)
		})
	}
}

func TestVaultAuthAppRole(t *testing.T) {
	f := newAuthFixture(t)
	e := f.e
	mount := e.enableAuth(t, "approle")
	creds := map[string][2]string{}
	for role, pol := range map[string]string{"allow": f.allowPol, "deny": f.denyPol} {
		e.write(t, "auth/"+mount+"/role/"+role, map[string]any{"token_policies": pol, "token_ttl": "5m"})
		s, err := e.root.Logical().Read("auth/" + mount + "/role/" + role + "/role-id")
		if err != nil {
			t.Fatal(err)
		}
		sid := e.write(t, "auth/"+mount+"/role/"+role+"/secret-id", nil)
		creds[role] = [2]string{s.Data["role_id"].(string), sid.Data["secret_id"].(string)}
	}

	t.Run("policy allowing the key", func(t *testing.T) {
		c := creds["allow"]
		keys, err := f.read(t, &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: c[0], SecretID: c[1]}, c[1])
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
	})
	t.Run("policy without the key: 403 names the path and capability", func(t *testing.T) {
		c := creds["deny"]
		_, err := f.read(t, &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: c[0], SecretID: c[1]}, c[1])
		want := fmt.Sprintf(`permission denied: %s/keys/jwt: the token's policy must grant "read" on "%s/keys/jwt"`, f.mount, f.mount)
		if !errors.Is(err, vault.ErrVaultDenied) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error = %v\nwant it to contain %s", err, want)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf(`fix: add path "%s/keys/jwt" { capabilities = ["read"] }`, f.mount)) {
			t.Errorf("error has no policy fix: %v", err)
		}
	})
	t.Run("wrong secret id", func(t *testing.T) {
		bad := "00000000-1111-2222-3333-444444444444"
		_, err := f.read(t, &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: creds["allow"][0], SecretID: bad}, bad)
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "auth/"+mount+"/login") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("wrong auth mount", func(t *testing.T) {
		c := creds["allow"]
		_, err := f.read(t, &vault.VaultLogin{Method: vault.AuthAppRole, Mount: "no-such-approle", RoleID: c[0], SecretID: c[1]}, c[1])
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "auth/no-such-approle/login: HTTP 403") || !strings.Contains(err.Error(), "vault auth list") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("Close revokes the login's token", func(t *testing.T) {
		c := creds["allow"]
		v := &vault.Vault{Client: f.anon(t), Login: &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: c[0], SecretID: c[1]}}
		if _, err := vaultSource(t, v, sources.Spec{Spec: f.spec}).Keys(context.Background()); err != nil {
			t.Fatal(err)
		}
		tok := v.Client.Token()
		if tok == "" {
			t.Fatal("no token after login")
		}
		if err := v.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := vaultClient(t, e.addr, tok).Auth().Token().LookupSelf(); err == nil {
			t.Error("the token still works after Close")
		}
		if err := v.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
		// A token the caller gave is not revoked.
		root := &vault.Vault{Client: vaultClient(t, e.addr, os.Getenv("JWKSPUB_IT_VAULT_TOKEN"))}
		if _, err := vaultSource(t, root, sources.Spec{Spec: f.spec}).Keys(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := root.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.root.Auth().Token().LookupSelf(); err != nil {
			t.Fatalf("Close revoked a caller's token: %v", err)
		}
	})
	t.Run("one login for every source", func(t *testing.T) {
		c := creds["allow"]
		v := &vault.Vault{Client: f.anon(t), Login: &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: c[0], SecretID: c[1]}}
		// Use the secret id once: a second login would fail.
		e.write(t, "auth/"+mount+"/role/allow", map[string]any{"token_policies": f.allowPol, "secret_id_num_uses": 1})
		sid := e.write(t, "auth/"+mount+"/role/allow/secret-id", nil).Data["secret_id"].(string)
		v.Login.SecretID = sid
		for i := 0; i < 3; i++ {
			if _, err := vaultSource(t, v, sources.Spec{Spec: f.spec}).Keys(context.Background()); err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
		}
	})
	t.Run("over slow networks", func(t *testing.T) {
		e.write(t, "auth/"+mount+"/role/slow", map[string]any{"token_policies": manyPolicies(f.allowPol), "token_ttl": "5m"})
		s, err := e.root.Logical().Read("auth/" + mount + "/role/slow/role-id")
		if err != nil {
			t.Fatal(err)
		}
		roleID := s.Data["role_id"].(string)
		f.overSlowNetworks(t, func() *vault.VaultLogin {
			sid := e.write(t, "auth/"+mount+"/role/slow/secret-id", nil).Data["secret_id"].(string)
			return &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: roleID, SecretID: sid}
		})
	})
	t.Run("a login answer lost on the way: retried, its token revoked", func(t *testing.T) {
		c := creds["allow"]
		// The first login's answer is cut after the token: the connection drops.
		var cutToken atomic.Value
		p := newVaultProxy(t, e.addr, func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/login") || cutToken.Load() != nil {
				return false
			}
			body, status := forward(t, e.addr, r)
			tok := issuedToken(body)
			cutToken.Store(tok)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(status)
			w.Write(body[:bytes.Index(body, []byte(tok))+len(tok)+2])
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}, nil)
		cl := vaultClient(t, p.URL, "")
		cl.ClearToken()
		logger, logs := captureLog()
		v := &vault.Vault{Client: cl, Retries: 2, Backoff: 10 * time.Millisecond, Logger: logger,
			Login: &vault.VaultLogin{Method: vault.AuthAppRole, Mount: mount, RoleID: c[0], SecretID: c[1]}}
		if _, err := vaultSource(t, v, sources.Spec{Spec: f.spec}).Keys(context.Background()); err != nil {
			t.Fatalf("read after a lost login answer: %v", err)
		}
		if err := v.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		lost, _ := cutToken.Load().(string)
		if lost == "" {
			t.Fatal("no login answer was cut")
		}
		e.revoked(t, append([]string{lost}, p.tokens()...))
		if !strings.Contains(logs.String(), "the answer was cut short") || !strings.Contains(logs.String(), "revoked the token it issued") {
			t.Errorf("the log does not tell what happened:\n%s", logs)
		}
		if strings.Contains(logs.String(), lost) {
			t.Error("the log reveals the lost token")
		}
	})
}

// forward sends r to Vault and returns the whole answer.
func forward(t *testing.T, vaultAddr string, r *http.Request) ([]byte, int) {
	t.Helper()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	u, _ := url.Parse(vaultAddr)
	out.URL.Scheme, out.URL.Host = u.Scheme, u.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		t.Error(err)
		return nil, http.StatusBadGateway
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

func TestVaultAuthTokenInvalid(t *testing.T) {
	f := newAuthFixture(t)
	c := vaultClient(t, f.e.addr, "hvs.not-a-real-token")
	_, err := vaultSource(t, &vault.Vault{Client: c}, sources.Spec{Spec: f.spec}).Keys(context.Background())
	if !errors.Is(err, vault.ErrVaultDenied) || !strings.Contains(err.Error(), "the token is invalid or expired") {
		t.Fatalf("error = %v", err)
	}
	if strings.Contains(err.Error(), "not-a-real-token") {
		t.Errorf("error reveals the token: %v", err)
	}
}

// jwtIssuer signs test JWTs with its own key, which the Vault jwt mount trusts through
// jwt_validation_pubkeys.
type jwtIssuer struct {
	key *ecdsa.PrivateKey
}

func newJWTIssuer(t *testing.T) *jwtIssuer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &jwtIssuer{key: k}
}

func (j *jwtIssuer) sign(t *testing.T, aud string, claims map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder().Issuer("https://token.actions.githubusercontent.com").Subject("repo:jwkspub/jwkspub:ref:refs/heads/main").
		Audience([]string{aud}).IssuedAt(time.Now()).NotBefore(time.Now().Add(-time.Minute)).Expiration(time.Now().Add(5 * time.Minute))
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, j.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// githubStandIn serves GitHub Actions' OIDC token endpoint: GET with "Authorization: bearer
// <request token>" and ?audience=, answering {"value": "<jwt>"}.
func githubStandIn(t *testing.T, requestToken string, iss *jwtIssuer) (*httptest.Server, *[]string) {
	var (
		mu   sync.Mutex
		auds []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+requestToken {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		aud := r.URL.Query().Get("audience")
		mu.Lock()
		auds = append(auds, aud)
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"value": iss.sign(t, aud, map[string]any{"repository": "jwkspub/jwkspub"})})
	}))
	t.Cleanup(srv.Close)
	return srv, &auds
}

func TestVaultAuthJWTAndGitHubActions(t *testing.T) {
	f := newAuthFixture(t)
	e := f.e
	iss := newJWTIssuer(t)
	mount := e.enableAuth(t, "jwt")
	e.write(t, "auth/"+mount+"/config", map[string]any{
		"jwt_validation_pubkeys": []string{pemOf(t, &iss.key.PublicKey)},
		"bound_issuer":           "https://token.actions.githubusercontent.com",
	})
	for role, pol := range map[string]string{"publisher": f.allowPol, "other": f.denyPol} {
		e.write(t, "auth/"+mount+"/role/"+role, map[string]any{
			"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"jwkspub-vault"},
			"bound_claims": map[string]any{"repository": "jwkspub/jwkspub"}, "token_policies": pol, "token_ttl": "5m",
		})
	}
	requestToken := "ghs_requesttoken_" + vaultName("x")
	gh, auds := githubStandIn(t, requestToken, iss)
	ghLogin := func(role, aud, reqTok string) *vault.VaultLogin {
		return &vault.VaultLogin{Method: vault.AuthGitHubActions, Mount: mount, Role: role,
			GitHub: &vault.GitHubOIDC{RequestURL: gh.URL + "/token?api-version=2.0", RequestToken: reqTok, Audience: aud}}
	}

	t.Run("github-actions", func(t *testing.T) {
		keys, err := f.read(t, ghLogin("publisher", "jwkspub-vault", requestToken), requestToken)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
		if got := (*auds)[len(*auds)-1]; got != "jwkspub-vault" {
			t.Errorf("token requested for audience %q", got)
		}
	})
	t.Run("github-actions, role without the key", func(t *testing.T) {
		_, err := f.read(t, ghLogin("other", "jwkspub-vault", requestToken), requestToken)
		if !errors.Is(err, vault.ErrVaultDenied) || !strings.Contains(err.Error(), `must grant "read" on "`+f.mount+`/keys/jwt"`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("github-actions, audience not bound", func(t *testing.T) {
		_, err := f.read(t, ghLogin("publisher", "someone-else", requestToken), requestToken)
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "auth/"+mount+"/login") {
			t.Fatalf("error = %v", err)
		}
		t.Logf("message: %v", err)
		if strings.Contains(err.Error(), "eyJ") {
			t.Errorf("error reveals a JWT: %v", err)
		}
	})
	t.Run("github-actions, bad request token", func(t *testing.T) {
		_, err := f.read(t, ghLogin("publisher", "jwkspub-vault", "wrong-request-token"), "wrong-request-token")
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "GitHub OIDC token endpoint: HTTP 401") {
			t.Fatalf("error = %v", err)
		}
		t.Logf("message: %v", err)
	})
	t.Run("jwt", func(t *testing.T) {
		tok := iss.sign(t, "jwkspub-vault", map[string]any{"repository": "jwkspub/jwkspub"})
		keys, err := f.read(t, &vault.VaultLogin{Method: vault.AuthJWT, Mount: mount, Role: "publisher", JWT: tok}, tok)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
	})
	t.Run("jwt signed by another key", func(t *testing.T) {
		tok := newJWTIssuer(t).sign(t, "jwkspub-vault", map[string]any{"repository": "jwkspub/jwkspub"})
		_, err := f.read(t, &vault.VaultLogin{Method: vault.AuthJWT, Mount: mount, Role: "publisher", JWT: tok}, tok)
		if !errors.Is(err, vault.ErrVaultLogin) {
			t.Fatalf("error = %v", err)
		}
		t.Logf("message: %v", err)
	})
	t.Run("jwt over slow networks", func(t *testing.T) {
		e.write(t, "auth/"+mount+"/role/slow", map[string]any{
			"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{"jwkspub-vault"},
			"bound_claims": map[string]any{"repository": "jwkspub/jwkspub"}, "token_policies": manyPolicies(f.allowPol), "token_ttl": "5m",
		})
		f.overSlowNetworks(t, func() *vault.VaultLogin {
			return &vault.VaultLogin{Method: vault.AuthJWT, Mount: mount, Role: "slow", JWT: iss.sign(t, "jwkspub-vault", map[string]any{"repository": "jwkspub/jwkspub"})}
		})
	})
}

// TestVaultAuthKubernetes configures auth/kubernetes the way Vault's documentation allows
// outside a cluster: the service-account JWTs come from the test's own issuer (its public key
// in pem_keys, its name in issuer), and kubernetes_host points at a stand-in for the API
// server's TokenReview endpoint, which Vault calls to confirm the token. There is no
// Kubernetes cluster on this machine; that endpoint is the only part of it Vault talks to.
func TestVaultAuthKubernetes(t *testing.T) {
	f := newAuthFixture(t)
	e := f.e
	iss := newJWTIssuer(t)
	const issuer = "https://kubernetes.default.svc.cluster.local"
	saToken := func(t *testing.T, name string) string {
		t.Helper()
		tok, err := jwt.NewBuilder().Issuer(issuer).Subject("system:serviceaccount:ci:"+name).Audience([]string{"vault"}).
			IssuedAt(time.Now()).Expiration(time.Now().Add(10*time.Minute)).
			Claim("kubernetes.io", map[string]any{"namespace": "ci", "serviceaccount": map[string]any{"name": name, "uid": "uid-" + name}}).Build()
		if err != nil {
			t.Fatal(err)
		}
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, iss.key))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var reviewed atomic.Int64
	reviewer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" || r.Header.Get("Authorization") != "Bearer reviewer-jwt" {
			http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var req struct {
			Spec struct {
				Token     string   `json:"token"`
				Audiences []string `json:"audiences"`
			} `json:"spec"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		reviewed.Add(1)
		parsed, err := jwt.Parse([]byte(req.Spec.Token), jwt.WithKey(jwa.ES256, &iss.key.PublicKey))
		status := map[string]any{"authenticated": false, "error": "invalid token"}
		if err == nil {
			name := strings.TrimPrefix(parsed.Subject(), "system:serviceaccount:ci:")
			status = map[string]any{"authenticated": true, "audiences": req.Spec.Audiences,
				"user": map[string]any{"username": parsed.Subject(), "uid": "uid-" + name}}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
	}))
	t.Cleanup(reviewer.Close)

	mount := e.enableAuth(t, "kubernetes")
	e.write(t, "auth/"+mount+"/config", map[string]any{
		"kubernetes_host": reviewer.URL, "token_reviewer_jwt": "reviewer-jwt", "disable_local_ca_jwt": true,
		"issuer": issuer, "pem_keys": []string{pemOf(t, &iss.key.PublicKey)},
	})
	e.write(t, "auth/"+mount+"/role/publisher", map[string]any{
		"bound_service_account_names": "jwkspub", "bound_service_account_namespaces": "ci", "token_policies": f.allowPol, "audience": "vault",
	})
	login := func(role, tok string) *vault.VaultLogin {
		return &vault.VaultLogin{Method: vault.AuthKubernetes, Mount: mount, Role: role, JWT: tok}
	}

	t.Run("service account bound to the role", func(t *testing.T) {
		tok := saToken(t, "jwkspub")
		keys, err := f.read(t, login("publisher", tok), tok)
		if err != nil || len(keys) != 1 {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
		if reviewed.Load() == 0 {
			t.Error("Vault never asked the TokenReview endpoint")
		}
	})
	t.Run("another service account", func(t *testing.T) {
		tok := saToken(t, "intruder")
		_, err := f.read(t, login("publisher", tok), tok)
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "service account name not authorized") {
			t.Fatalf("error = %v", err)
		}
		if strings.Contains(err.Error(), "is an auth method mounted there") {
			t.Errorf("a refusal by a mounted method is blamed on the mount: %v", err)
		}
	})
	t.Run("no such role", func(t *testing.T) {
		tok := saToken(t, "jwkspub")
		_, err := f.read(t, login("nope", tok), tok)
		if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "auth/"+mount+"/login") {
			t.Fatalf("error = %v", err)
		}
		t.Logf("message: %v", err)
	})
	// Refusals by the mounted method: the message must not blame the mount alone, and its fix
	// names what to check in the role.
	for _, tc := range []struct {
		name string
		tok  func(t *testing.T) string
	}{
		{"a token the API server does not confirm", func(t *testing.T) string {
			tok, err := jwt.NewBuilder().Issuer(issuer).Subject("system:serviceaccount:ci:jwkspub").Audience([]string{"vault"}).
				IssuedAt(time.Now()).Expiration(time.Now().Add(10*time.Minute)).
				Claim("kubernetes.io", map[string]any{"namespace": "ci", "serviceaccount": map[string]any{"name": "jwkspub", "uid": "uid-jwkspub"}}).Build()
			if err != nil {
				t.Fatal(err)
			}
			b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, newJWTIssuer(t).key))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}},
		{"a token for another audience", func(t *testing.T) string {
			tok, err := jwt.NewBuilder().Issuer(issuer).Subject("system:serviceaccount:ci:jwkspub").Audience([]string{"someone-else"}).
				IssuedAt(time.Now()).Expiration(time.Now().Add(10*time.Minute)).
				Claim("kubernetes.io", map[string]any{"namespace": "ci", "serviceaccount": map[string]any{"name": "jwkspub", "uid": "uid-jwkspub"}}).Build()
			if err != nil {
				t.Fatal(err)
			}
			b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, iss.key))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok(t)
			_, err := f.read(t, login("publisher", tok), tok)
			if !errors.Is(err, vault.ErrVaultLogin) || !strings.Contains(err.Error(), "auth/"+mount+"/login") {
				t.Fatalf("error = %v", err)
			}
			t.Logf("message: %v", err)
			if strings.Contains(err.Error(), "is an auth method mounted there") || !strings.Contains(err.Error(), "bound_service_account_names") {
				t.Errorf("a refusal by the mounted method is not explained by the role: %v", err)
			}
		})
	}
	t.Run("over slow networks", func(t *testing.T) {
		e.write(t, "auth/"+mount+"/role/slow", map[string]any{
			"bound_service_account_names": "jwkspub", "bound_service_account_namespaces": "ci", "token_policies": manyPolicies(f.allowPol), "audience": "vault", "token_ttl": "5m",
		})
		f.overSlowNetworks(t, func() *vault.VaultLogin { return login("slow", saToken(t, "jwkspub")) })
	})
}
