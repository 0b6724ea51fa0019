package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/jwkspub/jwkspub/internal/retry"
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
	// maxRetryAfter is the longest Retry-After jwkspub waits for: a Vault asking for more is
	// not coming back within a publishing run.
	maxRetryAfter = 30 * time.Second
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
	// outage is the error of the call that last gave up on Vault after all its retries. Later
	// calls of the run fail with it at once: one outage spends one retry budget, not one per
	// source. Its own lock: calls run while mu is held (the login, Close).
	outageMu sync.Mutex
	outage   *vaultError
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
	return retry.Backoff(b, maxVaultBackoff, attempt)
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
		lf := &loginFailure{err}
		if ctx.Err() == nil {
			v.loginErr = lf
		}
		return lf
	}
	v.loggedIn = true
	return nil
}

// loginFailure is the run's failed login: every vault-* source of the run fails with this same
// value, so that it can be reported once (SharedFailure).
type loginFailure struct{ error }

func (e *loginFailure) Unwrap() error { return e.error }

// SharedFailure returns the failure behind err when it is not the source's own but the whole
// Vault connection's (its one login failed): every vault-* source of the run then fails with
// the same value, which callers report once. It returns nil for any other error.
func SharedFailure(err error) error {
	var lf *loginFailure
	if errors.As(err, &lf) {
		return lf
	}
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
	// Tried even after an outage: a token left valid is worth one more request.
	op := vaultOp{path: "auth/token/revoke-self", capability: "update", evenIfDown: true}
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
	evenIfDown bool   // tried even when an earlier call of the run gave up on Vault
}

// call runs fn with a per-attempt timeout and retries what is worth retrying, waiting at least
// as long as a Retry-After answer asks. Errors are classified into the ErrVault* sentinels with
// the path and the capability named. Once a call has spent its retries on an outage, later
// calls of the run fail at once with that outage (see Vault.outage).
func call[T any](ctx context.Context, v *Vault, op vaultOp, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := v.down(op); err != nil {
		return zero, err
	}
	attempts := 1 + v.retries()
	var (
		last       *vaultError
		retryAfter time.Duration
	)
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := max(v.backoff(i-1), retryAfter)
			v.logger().Warn("retrying vault call", "path", op.path, "attempt", i+1, "of", attempts, "after", wait.String(), "error", last.Error())
			if err := retry.Wait(ctx, wait); err != nil {
				return zero, fmt.Errorf("%s: %w", op.path, err)
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
		ve, ok := cerr.(*vaultError)
		if !retry || !ok {
			return zero, cerr
		}
		ve.transient = true
		last = ve
		retryAfter = retryAfterOf(err)
		if retryAfter > maxRetryAfter || deadlineBefore(ctx, retryAfter) {
			last = &vaultError{kind: ve.kind, msg: fmt.Sprintf("%s (Vault asks to retry after %s)", ve.msg, retryAfter), fix: ve.fix, transient: true}
			attempts = i + 1
			break
		}
	}
	if attempts > 1 {
		last = &vaultError{kind: last.kind, msg: fmt.Sprintf("%s (after %d attempts)", last.msg, attempts), fix: last.fix, transient: true}
	}
	v.outageMu.Lock()
	v.outage = last
	v.outageMu.Unlock()
	return zero, last
}

// down returns, when an earlier call of the run gave up on Vault after its retries, the error
// op fails with instead of being tried: the same outage, naming op's path.
func (v *Vault) down(op vaultOp) error {
	if op.evenIfDown {
		return nil
	}
	v.outageMu.Lock()
	o := v.outage
	v.outageMu.Unlock()
	if o == nil {
		return nil
	}
	return &vaultError{kind: o.kind, fix: o.fix, transient: true,
		msg: fmt.Sprintf("%s: %s: not tried, this run already gave up on Vault: %s", o.kind, op.path, strings.TrimPrefix(o.msg, o.kind.Error()+": "))}
}

// retryAfter carries a Retry-After answer with the error of the attempt.
type retryAfter struct {
	error
	after time.Duration
}

func (r *retryAfter) Unwrap() error { return r.error }

// withRetryAfter adds the Retry-After of resp (seconds or an HTTP date) to err.
func withRetryAfter(resp *api.Response, err error) error {
	if err == nil || resp == nil || resp.Header.Get("Retry-After") == "" {
		return err
	}
	h := resp.Header.Get("Retry-After")
	var d time.Duration
	if n, perr := strconv.Atoi(strings.TrimSpace(h)); perr == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, perr := http.ParseTime(h); perr == nil {
		d = time.Until(t)
	}
	if d <= 0 {
		return err
	}
	return &retryAfter{error: err, after: d}
}

func retryAfterOf(err error) time.Duration {
	var ra *retryAfter
	if errors.As(err, &ra) {
		return ra.after
	}
	return 0
}

// deadlineBefore reports whether ctx ends within d.
func deadlineBefore(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && d > 0 && time.Until(dl) < d
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

// Unavailable says Vault may answer later (sources.IsUnavailable).
func (e *vaultError) Unavailable() bool { return e.transient || e.kind == ErrVaultSealed }

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
	return errors.As(err, &ve) && ve.Unavailable()
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
			// Vault gives this same answer when the method refuses the credentials (Kubernetes
			// does, for a token the API server does not confirm) and when nothing is mounted
			// at the path: the message cannot tell which, so it names both.
			fix := op.loginFix
			if fix == "" {
				fix = "check the role and the credentials against the auth method's configuration"
			}
			return vErr(ErrVaultLogin, fix+"; and check --vault-auth-mount against `vault auth list`",
				"%s: HTTP 403: permission denied: Vault refused the credentials, or no auth method is mounted at %s", op.path, strings.TrimSuffix(op.path, "/login")), false
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
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The connection closed before the whole answer arrived: the network, not Vault.
		return vErr(ErrVaultUnreachable, "check the network between jwkspub and Vault (proxies, load balancers)", "%s: the answer was cut short: %v", op.path, scrubURLError(err)), true
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
		if err != nil && resp != nil && resp.StatusCode == http.StatusNotFound {
			// KV v2 answers a deleted or destroyed version with 404 and the version's
			// metadata: that answer, not "does not exist", is what the caller must see.
			if s, perr := api.ParseSecret(resp.Body); perr == nil && s != nil && len(s.Data) > 0 {
				return s, nil
			}
		}
		if err != nil {
			return nil, withRetryAfter(resp, err)
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
