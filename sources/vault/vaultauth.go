package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Vault auth methods VaultLogin knows. Token auth needs no login: the CLI sets the client's
// token (VAULT_TOKEN or ~/.vault-token) and leaves Vault.Login nil.
const (
	AuthToken         = "token"
	AuthAppRole       = "approle"
	AuthKubernetes    = "kubernetes"
	AuthJWT           = "jwt"
	AuthGitHubActions = "github-actions"
)

// AuthMethods lists the --vault-auth values.
var AuthMethods = []string{AuthToken, AuthAppRole, AuthKubernetes, AuthJWT, AuthGitHubActions}

// VaultLogin exchanges credentials for a Vault token at auth/MOUNT/login. The CLI reads the
// credentials (from files or the environment) and passes their values in; none of them ever
// appears in a log line or an error.
type VaultLogin struct {
	// Method is one of approle, kubernetes, jwt or github-actions.
	Method string
	// Mount is the auth method's mount path; empty means its usual one (approle, kubernetes,
	// jwt; github-actions logs in through a jwt mount).
	Mount string
	// Role is the role to log in as (kubernetes, jwt, github-actions; empty for jwt means the
	// mount's default_role).
	Role string
	// RoleID and SecretID are the AppRole credentials. SecretID is sensitive.
	RoleID, SecretID string
	// JWT is the Kubernetes service-account token or the JWT presented to a jwt mount.
	// Sensitive.
	JWT string
	// GitHub says where to request a GitHub Actions job's OIDC token (github-actions).
	GitHub *GitHubOIDC
}

// GitHubOIDC is a GitHub Actions job's OIDC token endpoint.
type GitHubOIDC struct {
	// RequestURL and RequestToken are ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN (the latter sensitive). GitHub sets them in jobs with
	// `permissions: id-token: write`.
	RequestURL, RequestToken string
	// Audience is the token's aud; it must be in the Vault role's bound_audiences. Empty keeps
	// GitHub's default (the repository owner's URL).
	Audience string
	// HTTPClient makes the request; nil means http.DefaultClient (each attempt is bounded by
	// Vault.Timeout regardless).
	HTTPClient *http.Client
}

func (l *VaultLogin) mount() string {
	if l.Mount != "" {
		return strings.Trim(l.Mount, "/")
	}
	if l.Method == AuthGitHubActions {
		return "jwt"
	}
	return l.Method
}

// secrets are the values that must never appear in messages.
func (l *VaultLogin) secrets() []string {
	s := []string{l.SecretID, l.JWT}
	if l.GitHub != nil {
		s = append(s, l.GitHub.RequestToken)
	}
	return s
}

// Validate checks that the method has what it needs, without contacting anything.
func (l *VaultLogin) Validate() error {
	need := func(what, how string) error {
		return fmt.Errorf("vault auth %s needs %s (%s)", l.Method, what, how)
	}
	switch l.Method {
	case AuthAppRole:
		if l.RoleID == "" {
			return need("a role id", "--vault-role-id or JWKSPUB_VAULT_ROLE_ID")
		}
		if l.SecretID == "" {
			return need("a secret id", "--vault-secret-id-file or JWKSPUB_VAULT_SECRET_ID")
		}
	case AuthKubernetes:
		if l.Role == "" {
			return need("a role", "--vault-role")
		}
		if l.JWT == "" {
			return need("the service-account token", "--vault-jwt-file, default /var/run/secrets/kubernetes.io/serviceaccount/token")
		}
	case AuthJWT:
		if l.JWT == "" {
			return need("a JWT", "--vault-jwt-file or JWKSPUB_VAULT_JWT")
		}
	case AuthGitHubActions:
		if l.GitHub == nil || l.GitHub.RequestURL == "" || l.GitHub.RequestToken == "" {
			return need("ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN", "give the job `permissions: id-token: write`")
		}
	default:
		return fmt.Errorf("vault auth %q: use one of %s", l.Method, strings.Join(AuthMethods, ", "))
	}
	return nil
}

// login performs the login and sets the client's token.
func (l *VaultLogin) login(ctx context.Context, v *Vault) error {
	if err := l.Validate(); err != nil {
		return err
	}
	body := map[string]string{}
	switch l.Method {
	case AuthAppRole:
		body["role_id"], body["secret_id"] = l.RoleID, l.SecretID
	case AuthKubernetes, AuthJWT:
		body["jwt"] = l.JWT
	case AuthGitHubActions:
		jwt, err := l.GitHub.fetch(ctx, v)
		if err != nil {
			return redact(err, l.secrets()...)
		}
		body["jwt"] = jwt
		defer func() { body["jwt"] = "" }()
	}
	if l.Role != "" && l.Method != AuthAppRole {
		body["role"] = l.Role
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding login: %w", err)
	}
	path := "auth/" + l.mount() + "/login"
	op := vaultOp{path: path, capability: "update", login: true, loginFix: l.refusedFix()}
	sec, err := call(ctx, v, op, func(ctx context.Context) (*api.Secret, error) {
		return v.loginOnce(ctx, path, data)
	})
	if err != nil {
		return redact(err, append(l.secrets(), body["jwt"])...)
	}
	if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
		return vErr(ErrVaultLogin, "check the auth mount and role", "%s: no token in the answer", path)
	}
	v.Client.SetToken(sec.Auth.ClientToken)
	v.logger().Info("logged in to vault", "method", l.Method, "mount", l.mount(), "policies", strings.Join(sec.Auth.Policies, ","))
	return nil
}

// refusedFix says what to check when the method refuses the credentials.
func (l *VaultLogin) refusedFix() string {
	switch l.Method {
	case AuthAppRole:
		return "check the role id and the secret id (its TTL and number of uses)"
	case AuthKubernetes:
		return "check the role's bound_service_account_names, bound_service_account_namespaces and audience against the service account, and that Vault can reach the Kubernetes API (TokenReview)"
	case AuthGitHubActions:
		return "check the role's bound claims and bound_audiences against the job's token (--vault-audience)"
	}
	return "check the role, its bound claims and audiences, and the keys the auth mount trusts"
}

// maxLoginAnswer bounds a login answer: a token with its policies and metadata is a few KB.
const maxLoginAnswer = 1 << 20

// loginOnce makes one login request and reads the whole answer before returning, while ctx
// (the attempt's) is alive: the answer may arrive in many pieces, and whatever had not arrived
// when the attempt ended would be lost. vault/api's WriteRaw cancels its own context when it
// returns, before the caller can read the body; RawRequestWithContext leaves that to ctx.
func (v *Vault) loginOnce(ctx context.Context, path string, data []byte) (*api.Secret, error) {
	r := v.Client.NewRequest(http.MethodPut, "/v1/"+path)
	r.BodyBytes = data
	resp, err := v.Client.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, withRetryAfter(resp, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginAnswer))
	if err != nil {
		// Vault has issued a token whose answer was lost on the way. When the part that did
		// arrive holds it, revoke it now: nothing else ever will.
		if tok := clientToken(b); tok != "" {
			v.revokeLost(ctx, tok)
		}
		return nil, err
	}
	return api.ParseSecret(bytes.NewReader(b))
}

// clientToken finds a complete auth.client_token in the beginning of a login answer.
func clientToken(partial []byte) string {
	const key = `"client_token":"`
	i := bytes.Index(partial, []byte(key))
	if i < 0 {
		return ""
	}
	rest := partial[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return "" // cut inside the token
	}
	return string(rest[:j])
}

// revokeLost revokes a token whose login answer was lost (auth/token/revoke-self with that
// token), briefly and even when the attempt's context has ended. It logs the outcome, never the
// token.
func (v *Vault) revokeLost(ctx context.Context, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout())
	defer cancel()
	r := v.Client.NewRequest(http.MethodPut, "/v1/auth/token/revoke-self")
	r.ClientToken = token
	resp, err := v.Client.RawRequestWithContext(ctx, r)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		v.logger().Warn("a vault login answer was cut short and the token it issued could not be revoked; it expires with the role's token_ttl", "err", scrubURLError(err).Error())
		return
	}
	v.logger().Info("a vault login answer was cut short; revoked the token it issued")
}

// fetch requests the job's OIDC token from GitHub: GET RequestURL&audience=AUD with
// "Authorization: bearer RequestToken", answering {"value": "<jwt>"}.
func (g *GitHubOIDC) fetch(ctx context.Context, v *Vault) (string, error) {
	u, err := url.Parse(g.RequestURL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return "", vErr(ErrVaultLogin, "check ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL")
	}
	if g.Audience != "" {
		q := u.Query()
		q.Set("audience", g.Audience)
		u.RawQuery = q.Encode()
	}
	hc := g.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	op := vaultOp{path: "GitHub OIDC token endpoint", login: true,
		loginFix: "check ACTIONS_ID_TOKEN_REQUEST_TOKEN, and give the job `permissions: id-token: write`"}
	return call(ctx, v, op, func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "bearer "+g.RequestToken)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			// The body is GitHub's error text; it holds no token.
			return "", &api.ResponseError{StatusCode: resp.StatusCode, Errors: []string{strings.TrimSpace(string(b))}}
		}
		var out struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(b, &out); err != nil || out.Value == "" {
			return "", vErr(ErrVaultLogin, "check ACTIONS_ID_TOKEN_REQUEST_URL", "GitHub OIDC token endpoint: the answer has no token value")
		}
		return out.Value, nil
	})
}

// redact replaces any sensitive value found in an error's text. Vault's messages do not echo
// credentials, but a message that did must not reach a CI log.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	var ve *vaultError
	if errors.As(err, &ve) {
		return &vaultError{kind: ve.kind, msg: msg, fix: ve.fix, transient: ve.transient}
	}
	return errors.New(msg)
}
