package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// defaultK8sTokenFile is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// vaultFlags are the flags of the vault-* sources. Credentials themselves are never flags
// (they would show in process listings and shell history): they come from files or from
// environment variables.
func vaultFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "vault-auth", Value: vault.AuthToken, Usage: "Vault auth method: " + strings.Join(vault.AuthMethods, ", "), EnvVars: []string{"JWKSPUB_VAULT_AUTH"}},
		&cli.StringFlag{Name: "vault-auth-mount", Usage: "auth method mount path (default: approle, kubernetes or jwt)", EnvVars: []string{"JWKSPUB_VAULT_AUTH_MOUNT"}},
		&cli.StringFlag{Name: "vault-role", Usage: "role for kubernetes, jwt and github-actions auth", EnvVars: []string{"JWKSPUB_VAULT_ROLE"}},
		&cli.StringFlag{Name: "vault-role-id", Usage: "AppRole role id", EnvVars: []string{"JWKSPUB_VAULT_ROLE_ID"}},
		&cli.StringFlag{Name: "vault-secret-id-file", Usage: "file holding the AppRole secret id (or set JWKSPUB_VAULT_SECRET_ID)", EnvVars: []string{"JWKSPUB_VAULT_SECRET_ID_FILE"}},
		&cli.StringFlag{Name: "vault-jwt-file", Usage: "file holding the JWT for jwt auth, or the service-account token for kubernetes auth (or set JWKSPUB_VAULT_JWT)", EnvVars: []string{"JWKSPUB_VAULT_JWT_FILE"}},
		&cli.StringFlag{Name: "vault-audience", Usage: "audience of the GitHub Actions OIDC token (github-actions auth)", EnvVars: []string{"JWKSPUB_VAULT_AUDIENCE"}},
		&cli.DurationFlag{Name: "vault-timeout", Value: vault.DefaultVaultTimeout, Usage: "timeout of each Vault request", EnvVars: []string{"JWKSPUB_VAULT_TIMEOUT"}},
		&cli.IntFlag{Name: "vault-retries", Value: vault.DefaultVaultRetries, Usage: "retries after a 429, 5xx or connection error (0 for none)", EnvVars: []string{"JWKSPUB_VAULT_RETRIES"}},
	}
}

// vaultSettings is what the vault flags say, read once per command; the connection itself is
// made only when a set has a vault-* source.
type vaultSettings struct {
	auth, mount, role, roleID, secretIDFile, jwtFile, audience string
	timeout                                                    time.Duration
	retries                                                    int
}

func readVaultSettings(c *cli.Context) (vaultSettings, error) {
	s := vaultSettings{
		auth: c.String("vault-auth"), mount: c.String("vault-auth-mount"), role: c.String("vault-role"),
		roleID: c.String("vault-role-id"), secretIDFile: c.String("vault-secret-id-file"),
		jwtFile: c.String("vault-jwt-file"), audience: c.String("vault-audience"),
		timeout: c.Duration("vault-timeout"), retries: c.Int("vault-retries"),
	}
	known := false
	for _, m := range vault.AuthMethods {
		known = known || m == s.auth
	}
	if !known {
		return s, usagef("--vault-auth %q: use one of %s", s.auth, strings.Join(vault.AuthMethods, ", "))
	}
	if s.timeout <= 0 {
		return s, usagef("--vault-timeout %s: must be positive", s.timeout)
	}
	if s.retries < 0 {
		return s, usagef("--vault-retries %d: must be 0 or more", s.retries)
	}
	return s, nil
}

// usesVault reports whether any source of the set reads Vault.
func usesVault(set *config.SetConfig) bool {
	for _, sc := range set.Sources {
		if strings.HasPrefix(sc.Spec.Spec, "vault-") {
			return true
		}
	}
	return false
}

// needsVaultToken reports whether a set of the run reads Vault through an authenticated
// endpoint: every vault-* source but vault-oidc:, whose keys Vault serves to anyone.
func (g *globals) needsVaultToken() bool {
	for i := range g.cfg.Sets {
		for _, sc := range g.cfg.Sets[i].Sources {
			if strings.HasPrefix(sc.Spec.Spec, "vault-") && !strings.HasPrefix(sc.Spec.Spec, "vault-oidc:") {
				return true
			}
		}
	}
	return false
}

// vaultConn builds the one Vault connection of a run. This is the only place that reads the
// standard VAULT_* variables (through the injected lookup, never os.Getenv) and credential
// files; api.NewClient's own reading of VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS is
// overridden right after, so what is used is exactly what this function decided.
func (g *globals) vaultConn() (*vault.Vault, error) {
	if g.vault != nil {
		return g.vault, nil
	}
	get := func(name string) string {
		v, _ := g.lookup(name)
		return strings.TrimSpace(v)
	}
	addr := get("VAULT_ADDR")
	if addr == "" {
		return nil, fmt.Errorf("vault sources need VAULT_ADDR (e.g. https://vault.example.com:8200)")
	}
	hc := &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// The api client handles Vault's redirects itself (standby nodes).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cfg := &api.Config{Address: addr, HttpClient: hc, Timeout: g.vs.timeout, MaxRetries: 0}
	if ca := get("VAULT_CACERT"); ca != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: ca}); err != nil {
			return nil, fmt.Errorf("VAULT_CACERT %s: %w", ca, err)
		}
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client for %s: %w", addr, err)
	}
	client.ClearToken()
	client.ClearNamespace()
	client.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	if ns := get("VAULT_NAMESPACE"); ns != "" {
		client.SetNamespace(ns)
	}
	v := &vault.Vault{Client: client, Timeout: g.vs.timeout, Retries: g.vs.retries, Logger: g.logger}
	if g.vs.retries == 0 {
		v.Retries = -1
	}
	switch g.vs.auth {
	case vault.AuthToken:
		tok := get("VAULT_TOKEN")
		if tok == "" {
			if home := get("HOME"); home != "" {
				if b, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil {
					tok = strings.TrimSpace(string(b))
				}
			}
		}
		if tok == "" && g.needsVaultToken() {
			return nil, fmt.Errorf("no Vault token: set VAULT_TOKEN, run `vault login` (writes ~/.vault-token), or choose another --vault-auth")
		}
		client.SetToken(tok)
	default:
		login := &vault.VaultLogin{Method: g.vs.auth, Mount: g.vs.mount, Role: g.vs.role, RoleID: g.vs.roleID}
		switch g.vs.auth {
		case vault.AuthAppRole:
			if login.SecretID, err = secretFrom(g.lookup, "JWKSPUB_VAULT_SECRET_ID", g.vs.secretIDFile, ""); err != nil {
				return nil, err
			}
		case vault.AuthKubernetes:
			if login.JWT, err = secretFrom(g.lookup, "JWKSPUB_VAULT_JWT", g.vs.jwtFile, defaultK8sTokenFile); err != nil {
				return nil, err
			}
		case vault.AuthJWT:
			if login.JWT, err = secretFrom(g.lookup, "JWKSPUB_VAULT_JWT", g.vs.jwtFile, ""); err != nil {
				return nil, err
			}
		case vault.AuthGitHubActions:
			login.GitHub = &vault.GitHubOIDC{
				RequestURL:   get("ACTIONS_ID_TOKEN_REQUEST_URL"),
				RequestToken: get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
				Audience:     g.vs.audience,
			}
		}
		if err := login.Validate(); err != nil {
			return nil, err
		}
		v.Login = login
		if g.atExit != nil {
			*g.atExit = append(*g.atExit, func(ctx context.Context) {
				if err := v.Close(ctx); err != nil {
					g.logger.Warn("could not revoke the Vault token of this run; it expires with the role's token_ttl", "err", err.Error())
				}
			})
		}
	}
	g.vault = v
	return v, nil
}

// secretFrom reads a credential from the variable env, else from file (or fallback when file is
// empty). The value is trimmed; messages name where it was looked for, never what it holds.
func secretFrom(lookup func(string) (string, bool), env, file, fallback string) (string, error) {
	if file == "" {
		if v, ok := lookup(env); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), nil
		}
		file = fallback
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading credential file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
