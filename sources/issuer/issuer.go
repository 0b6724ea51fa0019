package issuer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/internal/retry"
	"github.com/jwkspub/jwkspub/sources"
)

// Defaults and bounds of a fetch.
const (
	DefaultTimeout = 10 * time.Second
	DefaultRetries = 3
	DefaultBackoff = 250 * time.Millisecond
	maxBackoff     = 4 * time.Second
	// maxRetryAfter is the longest Retry-After waited for: an issuer asking for more is not
	// coming back within a publishing run.
	maxRetryAfter = 30 * time.Second
	// MaxDocumentBytes bounds one answer: a JWK Set of ten thousand RSA keys is about 4 MB.
	MaxDocumentBytes = 16 << 20
	// MaxRedirects bounds the redirects of one fetch; each must obey the https rule too.
	MaxRedirects = 5
)

// Errors a fetch fails with, for errors.Is; each is wrapped with the URL and a fix.
var (
	// ErrUnreachable: no usable answer after every retry (connection refused or reset, a
	// timeout, 429 or 5xx). An optional source failing so keeps its live keys.
	ErrUnreachable = errors.New("issuer unreachable")
	// ErrDenied: 401 or 403.
	ErrDenied = errors.New("issuer refused the request")
	// ErrNotFound: 404 or 410.
	ErrNotFound = errors.New("not found")
	// ErrResponse: another status, an answer too large, or a redirect the rule forbids.
	ErrResponse = errors.New("unexpected answer from the issuer")
	// ErrTLS: the issuer's certificate does not verify against the trusted CAs.
	ErrTLS = errors.New("issuer certificate not trusted")
)

// Fetcher builds the https:// sources of a run (sources.Builder) and holds how patient they
// are. The zero value uses the defaults.
type Fetcher struct {
	// Timeout bounds each attempt, body included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retries after a 429, a 5xx (but 501) or a connection error or timeout; 0 means
	// DefaultRetries, negative none.
	Retries int
	// Backoff is the wait before the first retry, doubling (with jitter) up to 4s; 0 means
	// DefaultBackoff.
	Backoff time.Duration
	// Logger receives retries (never a token); nil discards.
	Logger *slog.Logger
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout <= 0 {
		return DefaultTimeout
	}
	return f.Timeout
}

func (f *Fetcher) retries() int {
	switch {
	case f.Retries < 0:
		return 0
	case f.Retries == 0:
		return DefaultRetries
	}
	return f.Retries
}

func (f *Fetcher) backoff(attempt int) time.Duration {
	b := f.Backoff
	if b <= 0 {
		b = DefaultBackoff
	}
	return retry.Backoff(b, maxBackoff, attempt)
}

func (f *Fetcher) logger() *slog.Logger {
	if f == nil || f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// NewSource builds the source of an https:// (or loopback http://) spec.
func (f *Fetcher) NewSource(kind, arg string, s sources.Spec, opts sources.Options, d sources.Defaults) (sources.Source, error) {
	if err := CheckSpec(s); err != nil {
		return nil, err
	}
	return &Source{URL: s.Spec, CAFile: s.CAFile, TokenFile: s.TokenFile, Optional: s.Optional, Fetcher: f, Opts: opts, Defaults: d}, nil
}

// CheckSpec checks an https:// spec and its options without fetching anything, for
// configuration validation.
func CheckSpec(s sources.Spec) error {
	if err := CheckURL(s.Spec); err != nil {
		if u, perr := url.Parse(s.Spec); perr == nil && u.User != nil {
			return fmt.Errorf("source %q: %w", u.Redacted(), err)
		}
		return fmt.Errorf("source %q: %w", s.Spec, err)
	}
	if s.Versions != "" {
		return fmt.Errorf("source %q: versions applies to vault-transit; an issuer publishes the keys it publishes", s.Spec)
	}
	return nil
}

// Source publishes the keys an issuer serves at URL: its JWK Set, or the one its discovery
// document's jwks_uri names.
type Source struct {
	URL       string
	CAFile    string // PEM bundle trusted instead of the system's CAs; "" uses the system's
	TokenFile string // bearer token, read on each fetch; "" sends none
	Optional  bool
	Fetcher   *Fetcher
	Opts      sources.Options
	Defaults  sources.Defaults
}

func (s *Source) String() string { return s.URL }

// Keys implements sources.Source.
func (s *Source) Keys(ctx context.Context) ([]sources.Key, error) {
	origin := sources.Origin{Source: s.String()}
	fail := func(err error, fix string) ([]sources.Key, error) {
		return nil, &sources.Error{Origin: origin, Err: err, Fix: fix}
	}
	client, err := s.client()
	if err != nil {
		return fail(err, "give ca_file a readable PEM file of CA certificates")
	}
	token := ""
	if s.TokenFile != "" {
		b, err := os.ReadFile(s.TokenFile)
		if err != nil {
			return fail(fmt.Errorf("reading token_file: %w", err), "check the token file exists and is readable (a Kubernetes service-account token is mounted at /var/run/secrets/kubernetes.io/serviceaccount/token)")
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return fail(fmt.Errorf("token_file %s is empty", s.TokenFile), "write the bearer token to it, or remove token_file")
		}
	}
	at, target := origin, s.URL
	for hop := 0; ; hop++ {
		body, ctype, err := s.fetch(ctx, client, target, token)
		if err != nil {
			if s.Optional && errors.Is(err, ErrNotFound) {
				s.Opts.Log().Info("optional source does not exist", "source", s.String(), "url", target)
				return nil, nil
			}
			return nil, &sources.Error{Origin: at, Err: err, Fix: fixOf(err)}
		}
		if err := s.Opts.Charge(at, len(body)); err != nil {
			return nil, err
		}
		doc, err := ParseDocument(body, ctype, at, s.Opts)
		if err != nil {
			return nil, err
		}
		if doc.JWKSURI == "" {
			name := hostOf(target)
			for i := range doc.Keys {
				doc.Keys[i].Name = name
			}
			s.Defaults.Apply(doc.Keys)
			return doc.Keys, nil
		}
		if hop > 0 {
			// A jwks_uri that answers with another discovery document would go round forever.
			return nil, &sources.Error{Origin: at, Err: fmt.Errorf("%w: it names another jwks_uri (%s), not a JWK Set", ErrNotDocument, doc.JWKSURI), Fix: "fix the issuer's discovery document: jwks_uri must serve the JWK Set"}
		}
		target = doc.JWKSURI
		at.Location = "jwks_uri " + target
	}
}

// client is the HTTP client of one fetch: the CA bundle when one is given, TLS 1.2 at least,
// and redirects bounded and held to the https rule (or an https URL could hand the fetch, and
// the token, to plain http). net/http itself drops the Authorization header on a redirect to
// another host.
func (s *Source) client() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", s.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if err := CheckURL(req.URL.String()); err != nil {
				return &refusal{fmt.Errorf("%w: redirect from %s: %w", ErrResponse, via[len(via)-1].URL, err)}
			}
			if len(via) > MaxRedirects {
				return &refusal{fmt.Errorf("%w: more than %d redirects", ErrResponse, MaxRedirects)}
			}
			return nil
		},
	}, nil
}

// refusal is an error of this package's making inside net/http (a redirect refused): it is
// final, never retried.
type refusal struct{ error }

func (r *refusal) Unwrap() error { return r.error }

// fetchError is a classified failure of one fetch.
type fetchError struct {
	kind        error
	cause       error // for errors.Is beyond kind (ErrInsecureURL of a redirect); may be nil
	msg         string
	fix         string
	unavailable bool
}

func (e *fetchError) Error() string     { return e.msg }
func (e *fetchError) Unwrap() []error   { return []error{e.kind, e.cause} }
func (e *fetchError) Unavailable() bool { return e.unavailable }

func fixOf(err error) string {
	var fe *fetchError
	if errors.As(err, &fe) {
		return fe.fix
	}
	return ""
}

// fetch GETs rawURL, retrying what is worth retrying, and returns the body of a 200 and its
// Content-Type.
func (s *Source) fetch(ctx context.Context, client *http.Client, rawURL, token string) ([]byte, string, error) {
	f := s.Fetcher
	attempts := 1 + f.retries()
	var (
		last       *fetchError
		retryAfter time.Duration
	)
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := max(f.backoff(i-1), retryAfter)
			f.logger().Warn("retrying issuer fetch", "url", rawURL, "attempt", i+1, "of", attempts, "after", wait.String(), "error", last.msg)
			if err := retry.Wait(ctx, wait); err != nil {
				return nil, "", err
			}
		}
		body, ctype, ra, err := s.attempt(ctx, client, rawURL, token)
		if err == nil {
			return body, ctype, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		fe, ok := err.(*fetchError)
		if !ok || !fe.unavailable {
			return nil, "", err
		}
		last, retryAfter = fe, ra
		if retryAfter > maxRetryAfter || deadlineBefore(ctx, retryAfter) {
			last = &fetchError{kind: fe.kind, msg: fmt.Sprintf("%s (the issuer asks to retry after %s)", fe.msg, retryAfter), fix: fe.fix, unavailable: true}
			attempts = i + 1
			break
		}
	}
	if attempts > 1 {
		last = &fetchError{kind: last.kind, msg: fmt.Sprintf("%s (after %d attempts)", last.msg, attempts), fix: last.fix, unavailable: true}
	}
	return nil, "", last
}

// attempt is one GET of rawURL within the per-attempt timeout, classified.
func (s *Source) attempt(ctx context.Context, client *http.Client, rawURL, token string) (body []byte, ctype string, retryAfter time.Duration, err error) {
	timeout := s.Fetcher.timeout()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", 0, &fetchError{kind: ErrResponse, msg: fmt.Sprintf("%v: %v", ErrResponse, err)}
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", 0, classifyTransport(err, actx.Err() == context.DeadlineExceeded && ctx.Err() == nil, timeout)
	}
	defer resp.Body.Close()
	ctype = resp.Header.Get("Content-Type")
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		fix := "set token_file to a bearer token the issuer accepts"
		if token != "" {
			fix = "the token in token_file was refused: renew it, or grant it read access to the keys (a Kubernetes issuer needs the system:service-account-issuer-discovery role)"
		}
		return nil, ctype, 0, &fetchError{kind: ErrDenied, msg: fmt.Sprintf("%v: HTTP %s", ErrDenied, resp.Status), fix: fix}
	case code == http.StatusNotFound || code == http.StatusGone:
		return nil, ctype, 0, &fetchError{kind: ErrNotFound, msg: fmt.Sprintf("%v: HTTP %s", ErrNotFound, resp.Status), fix: "check the URL: give the issuer's JWKS URL or its /.well-known/openid-configuration"}
	case code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented:
		return nil, ctype, retryAfterOf(resp.Header.Get("Retry-After")), &fetchError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: HTTP %s", ErrUnreachable, resp.Status), fix: "check the issuer's health, or mark the source optional to keep its live keys while it is down", unavailable: true}
	default:
		return nil, ctype, 0, &fetchError{kind: ErrResponse, msg: fmt.Sprintf("%v: HTTP %s", ErrResponse, resp.Status), fix: "check the URL and the issuer"}
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		// Cut short: the network or the issuer went away mid-answer.
		return nil, ctype, 0, classifyTransport(err, actx.Err() == context.DeadlineExceeded && ctx.Err() == nil, timeout)
	}
	if len(body) > MaxDocumentBytes {
		return nil, ctype, 0, &fetchError{kind: ErrResponse, msg: fmt.Sprintf("%v: the answer is larger than %d bytes", ErrResponse, MaxDocumentBytes), fix: "check the URL: no JWK Set is that large"}
	}
	return body, ctype, 0, nil
}

// classifyTransport turns a transport error into a fetchError. A certificate that does not
// verify and a redirect the rule refuses are final; everything else may pass (a reset, a
// refused connection, a timeout) and is retried.
func classifyTransport(err error, timedOut bool, timeout time.Duration) *fetchError {
	var (
		rf *refusal
		ce *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
	)
	switch {
	case errors.As(err, &rf):
		return &fetchError{kind: ErrResponse, cause: rf.error, msg: rf.Error(), fix: "point the source at the final https URL"}
	case errors.As(err, &ce) || errors.As(err, &ua) || errors.As(err, &hn):
		return &fetchError{kind: ErrTLS, msg: fmt.Sprintf("%v: %v", ErrTLS, causeOf(err)), fix: "set ca_file to the PEM bundle of the CA that signed the issuer's certificate, and check the URL's host name"}
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		return &fetchError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: no answer within %s", ErrUnreachable, timeout), fix: "check the issuer's health and the network, or mark the source optional", unavailable: true}
	}
	return &fetchError{kind: ErrUnreachable, msg: fmt.Sprintf("%v: %v", ErrUnreachable, causeOf(err)), fix: "check the URL, the network and the issuer's health, or mark the source optional", unavailable: true}
}

// causeOf drops the url.Error wrapping, whose message repeats the method and URL.
func causeOf(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfterOf reads a Retry-After header: seconds or an HTTP date.
func retryAfterOf(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// deadlineBefore reports whether ctx ends within d.
func deadlineBefore(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && d > 0 && time.Until(dl) < d
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}
