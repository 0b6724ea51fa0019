package sources

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// Errors a Vault call fails with, for errors.Is. Each is wrapped with the path and what to do.
var (
	// ErrVaultSealed: Vault answered that it is sealed; an operator must unseal it.
	ErrVaultSealed = errors.New("vault is sealed")
	// ErrVaultDenied: 403, the token's policy does not grant the capability on the path (or the
	// token is invalid or expired).
	ErrVaultDenied = errors.New("permission denied")
	// ErrVaultNotFound: 404, the mount, key or secret does not exist.
	ErrVaultNotFound = errors.New("not found")
	// ErrVaultUnreachable: no answer from Vault after every retry (connection refused, DNS,
	// TLS, or a timeout).
	ErrVaultUnreachable = errors.New("vault unreachable")
	// ErrVaultResponse: Vault answered something jwkspub cannot use (bad JSON, missing fields,
	// another error status).
	ErrVaultResponse = errors.New("unexpected vault response")
	// ErrVaultLogin: the auth method refused the credentials.
	ErrVaultLogin = errors.New("vault login failed")
)

// Defaults for Vault calls.
const (
	DefaultVaultTimeout = 10 * time.Second
	DefaultVaultRetries = 3
	DefaultVaultBackoff = 250 * time.Millisecond
	maxVaultBackoff     = 4 * time.Second
)

// Vault is the connection every vault-* source of a run shares: the client the CLI built, how
// patient to be with it, and how to log in. It logs in once, on the first read.
//
// The client should be built without retries of its own (api.Config.MaxRetries = 0): Vault
// makes every call through one bounded retry loop, so that retries, timeouts and error messages
// are the same for every path and never multiply.
type Vault struct {
	Client *api.Client
	// Timeout bounds each HTTP call (each attempt); 0 means DefaultVaultTimeout.
	Timeout time.Duration
	// Retries is how many times a call is retried after a 429, a 5xx (other than sealed or 501)
	// or a connection error or timeout; 0 means DefaultVaultRetries, negative means none.
	Retries int
	// Backoff is the wait before the first retry; it doubles each time (with jitter), up to
	// 4s. 0 means DefaultVaultBackoff.
	Backoff time.Duration
	// Login, when set, exchanges credentials for a token before the first read. nil uses the
	// client's token as it is.
	Login *VaultLogin
	// Logger receives retries and logins (never a token, secret id or JWT); nil discards.
	Logger *slog.Logger

	mu       sync.Mutex
	loggedIn bool
	loginErr error
	kvMounts map[string]kvMount // detected KV mounts by path, so each mount is asked once
}

func (v *Vault) logger() *slog.Logger {
	if v.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return v.Logger
}

func (v *Vault) timeout() time.Duration {
	if v.Timeout <= 0 {
		return DefaultVaultTimeout
	}
	return v.Timeout
}

func (v *Vault) retries() int {
	switch {
	case v.Retries < 0:
		return 0
	case v.Retries == 0:
		return DefaultVaultRetries
	}
	return v.Retries
}

func (v *Vault) backoff(attempt int) time.Duration {
	b := v.Backoff
	if b <= 0 {
		b = DefaultVaultBackoff
	}
	d := b << attempt
	if d > maxVaultBackoff || d <= 0 {
		d = maxVaultBackoff
	}
	// Full jitter on the upper half, so that parallel jobs do not retry in lockstep.
	return d/2 + rand.N(d/2+1)
}

// ready logs in once, if a login is configured.
func (v *Vault) ready(ctx context.Context) error {
	if v == nil || v.Client == nil {
		return errors.New("no Vault client configured (set VAULT_ADDR)")
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loggedIn || v.Login == nil {
		return nil
	}
	if v.loginErr != nil {
		// One failed login (after its retries) is the answer for every source of the run:
		// trying again per source would only multiply the wait during an outage.
		return v.loginErr
	}
	if err := v.Login.login(ctx, v); err != nil {
		if ctx.Err() == nil {
			v.loginErr = err
		}
		return err
	}
	v.loggedIn = true
	return nil
}

// Close revokes the token the Login obtained (auth/token/revoke-self, which Vault's default
// policy allows), so that a finished job leaves no valid token behind. It does nothing when
// no login happened: a token the caller supplied is the caller's.
func (v *Vault) Close(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.loggedIn {
		return nil
	}
	op := vaultOp{path: "auth/token/revoke-self", capability: "update"}
	_, err := call(ctx, v, op, func(ctx context.Context) (*api.Secret, error) {
		return v.Client.Logical().WriteWithContext(ctx, op.path, nil)
	})
	if err != nil {
		return err
	}
	v.Client.ClearToken()
	v.loggedIn = false
	v.logger().Debug("revoked the vault token of this run")
	return nil
}

// vaultOp names one call for messages: the HTTP method, the path and the ACL capability it needs.
type vaultOp struct {
	path       string // as in a policy, e.g. "transit/keys/jwt"
	capability string // "read", "update", "create"
	login      bool   // a login: 400/401/403 mean the credentials were refused
	loginFix   string // the fix when they are; empty for the generic one
}

// call runs fn with a per-attempt timeout and retries what is worth retrying. Errors are
// classified into the ErrVault* sentinels with the path and the capability named.
func call[T any](ctx context.Context, v *Vault, op vaultOp, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	attempts := 1 + v.retries()
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := v.backoff(i - 1)
			v.logger().Warn("retrying vault call", "path", op.path, "attempt", i+1, "of", attempts, "after", wait.String(), "error", last.Error())
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return zero, fmt.Errorf("%s: %w", op.path, ctx.Err())
			case <-t.C:
			}
		}
		actx, cancel := context.WithTimeout(ctx, v.timeout())
		out, err := fn(actx)
		timedOut := actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return zero, fmt.Errorf("%s: %w", op.path, ctx.Err())
		}
		cerr, retry := v.classify(op, err, timedOut)
		if !retry {
			return zero, cerr
		}
		if ve, ok := cerr.(*vaultError); ok {
			ve.transient = true
		}
		last = cerr
	}
	if ve, ok := last.(*vaultError); ok {
		return zero, &vaultError{kind: ve.kind, msg: fmt.Sprintf("%s (after %d attempts)", ve.msg, attempts), fix: ve.fix, transient: ve.transient}
	}
	return zero, last
}

// vaultError is a classified Vault failure: a sentinel Kind, the message, and how to fix it.
type vaultError struct {
	kind      error
	msg       string
	fix       string
	transient bool // Vault may answer later: unreachable, timed out, 429 or 5xx
}

func (e *vaultError) Error() string { return e.msg }
func (e *vaultError) Unwrap() error { return e.kind }

func vErr(kind error, fix, format string, a ...any) *vaultError {
	return &vaultError{kind: kind, msg: kind.Error() + ": " + fmt.Sprintf(format, a...), fix: fix}
}

// IsUnavailable reports whether err means the source could not be reached rather than that it
// is wrong: Vault unreachable or timing out, sealed, or answering 429/5xx after every retry.
// An optional source failing this way keeps its live keys at publication (publish.Build
// records it in Set.Unavailable) instead of dropping them; any other failure still stops the
// run.
func IsUnavailable(err error) bool {
	var ve *vaultError
	return errors.As(err, &ve) && (ve.transient || ve.kind == ErrVaultSealed)
}

// vaultFix returns the fix of a classified Vault error, for sources.Error.
func vaultFix(err error) string {
	var ve *vaultError
	if errors.As(err, &ve) {
		return ve.fix
	}
	return ""
}

// classify turns an error from the api client into one of the ErrVault* sentinels and says
// whether it is worth retrying. Messages carry Vault's own error text, which names paths and
// reasons but never the request body (where tokens and secret ids travel).
func (v *Vault) classify(op vaultOp, err error, timedOut bool) (error, bool) {
	var re *api.ResponseError
	if errors.As(err, &re) {
		msgs := strings.Join(re.Errors, "; ")
		switch {
		case op.login && re.StatusCode == 403 && strings.HasPrefix(op.path, "auth/") && strings.TrimSpace(strings.ToLower(msgs)) == "permission denied":
			// Vault answers 403, not 404, for a login path where no auth method is mounted.
			return vErr(ErrVaultLogin, "check --vault-auth-mount against `vault auth list`, and the credentials", "%s: HTTP 403: %s (is an auth method mounted there?)", op.path, orNone(msgs)), false
		case op.login && (re.StatusCode == 400 || re.StatusCode == 401 || re.StatusCode == 403):
			fix := op.loginFix
			if fix == "" {
				fix = "check the role, the credentials and the auth mount's configuration (bound claims, audiences)"
			}
			return vErr(ErrVaultLogin, fix, "%s: HTTP %d: %s", op.path, re.StatusCode, orNone(msgs)), false
		case re.StatusCode == 503 && strings.Contains(strings.ToLower(msgs), "sealed"):
			return vErr(ErrVaultSealed, "unseal Vault, or point VAULT_ADDR at an unsealed node", "reading %s", op.path), false
		case re.StatusCode == 403 && strings.Contains(msgs, "invalid token"):
			return vErr(ErrVaultDenied, "log in again, or check VAULT_TOKEN and the auth method", "%s: the token is invalid or expired", op.path), false
		case re.StatusCode == 403:
			return vErr(ErrVaultDenied, fmt.Sprintf("add path %q { capabilities = [%q] } to the token's policy", op.path, op.capability),
				"%s: the token's policy must grant %q on %q", op.path, op.capability, op.path), false
		case re.StatusCode == 404:
			if strings.Contains(msgs, "no handler for route") {
				return vErr(ErrVaultNotFound, "check the mount name (vault secrets list, vault auth list)", "%s: nothing is mounted there", op.path), false
			}
			return vErr(ErrVaultNotFound, "check the key or secret name, and the namespace (VAULT_NAMESPACE)", "%s does not exist", op.path), false
		case re.StatusCode == 429 || re.StatusCode >= 500 && re.StatusCode != 501:
			return vErr(ErrVaultResponse, "check Vault's health and logs", "%s: HTTP %d: %s", op.path, re.StatusCode, orNone(msgs)), true
		}
		return vErr(ErrVaultResponse, "", "%s: HTTP %d: %s", op.path, re.StatusCode, orNone(msgs)), false
	}
	if timedOut || errors.Is(err, context.DeadlineExceeded) {
		return vErr(ErrVaultUnreachable, "check VAULT_ADDR and Vault's health, or raise --vault-timeout", "%s: no answer within %s", op.path, v.timeout()), true
	}
	var (
		ue *url.Error
		ne net.Error
		ce *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
	)
	if errors.As(err, &ce) || errors.As(err, &ua) || errors.As(err, &hn) {
		// Retrying cannot fix a certificate Vault's CA does not vouch for.
		return vErr(ErrVaultUnreachable, "set VAULT_CACERT to the CA that signed Vault's certificate, and check VAULT_ADDR's host name", "%s: %v", op.path, scrubURLError(err)), false
	}
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return vErr(ErrVaultUnreachable, "check VAULT_ADDR (and VAULT_CACERT for TLS) and that Vault is running", "%s: %v", op.path, scrubURLError(err)), true
	}
	return vErr(ErrVaultResponse, "", "%s: %v", op.path, err), false
}

func orNone(s string) string {
	if s == "" {
		return "(no error text)"
	}
	return s
}

// scrubURLError keeps the operation and cause of a transport error but drops the query string
// of its URL, which is the only part of a request that could carry a credential in an error.
func scrubURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	u.RawQuery, u.User = "", nil
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}

// read reads path through call. It reads the raw response rather than Logical().Read, which
// turns every 404 into a nil secret and so loses Vault's "no handler for route" (a wrong mount)
// as opposed to a missing key.
func (v *Vault) read(ctx context.Context, path string, query map[string][]string) (*api.Secret, error) {
	op := vaultOp{path: path, capability: "read"}
	return call(ctx, v, op, func(ctx context.Context) (*api.Secret, error) {
		resp, err := v.Client.Logical().ReadRawWithDataWithContext(ctx, path, query)
		if resp != nil {
			defer resp.Body.Close()
		}
		if err != nil {
			return nil, err
		}
		s, err := api.ParseSecret(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("decoding the answer: %w", err)
		}
		if s == nil || s.Data == nil {
			return nil, &api.ResponseError{StatusCode: 404}
		}
		return s, nil
	})
}
