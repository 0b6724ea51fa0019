package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jwkspub/jwkspub/sources"
)

// The tests in this file inject network faults with httptest servers standing in for Vault's
// HTTP answers; the integration suite runs the same faults in front of the real dev server.

// loginAnswer is a Vault login answer for token tok with n policies (41 make it about 3 KB,
// more than two TCP segments).
func loginAnswer(tok string, n int) []byte {
	pols := make([]string, n)
	for i := range pols {
		pols[i] = "policy-with-a-long-name-" + strings.Repeat("x", 20) + "-" + string(rune('a'+i%26))
	}
	b, _ := json.Marshal(map[string]any{
		"request_id": "7e4b", "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil, "wrap_info": nil, "warnings": nil,
		"auth": map[string]any{"client_token": tok, "accessor": "acc", "policies": pols, "token_policies": pols, "lease_duration": 300, "renewable": true},
	})
	return b
}

// dribble writes body the way a slow network delivers it: the headers, then nothing for hold,
// then pieces of piece bytes, gap apart.
func dribble(w http.ResponseWriter, body []byte, hold time.Duration, piece int, gap time.Duration) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	f.Flush()
	time.Sleep(hold)
	for len(body) > 0 {
		n := min(piece, len(body))
		w.Write(body[:n])
		f.Flush()
		body = body[n:]
		time.Sleep(gap)
	}
}

// fakeVault serves login answers through answer and records the other requests by path.
type fakeVault struct {
	mu      sync.Mutex
	revoked []string // tokens auth/token/revoke-self was called with
	logins  int
}

func (f *fakeVault) client(t *testing.T, answer func(n int, w http.ResponseWriter)) *api.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/auth/token/revoke-self":
			f.mu.Lock()
			f.revoked = append(f.revoked, r.Header.Get("X-Vault-Token"))
			f.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		case "/v1/auth/approle/login":
			f.mu.Lock()
			f.logins++
			n := f.logins
			f.mu.Unlock()
			answer(n, w)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// As the CLI builds it: a client timeout set, no retries of its own.
	c, err := api.NewClient(&api.Config{Address: srv.URL, Timeout: 10 * time.Second, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	return c
}

func approle() *VaultLogin {
	return &VaultLogin{Method: AuthAppRole, RoleID: "role", SecretID: "s3cret-id"}
}

// A login answer that arrives in pieces, after a pause, is read whole: vault/api's WriteRaw
// used to cancel the request before the body was read ("context canceled").
func TestLoginSlowAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hold  time.Duration
		piece int
		gap   time.Duration
	}{
		{"body 50ms after the headers", 50 * time.Millisecond, 1 << 20, 0},
		{"1400-byte pieces 2ms apart", 0, 1400, 2 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeVault{}
			tok := "hvs.slow-" + strings.ReplaceAll(tc.name, " ", "-")
			c := f.client(t, func(_ int, w http.ResponseWriter) { dribble(w, loginAnswer(tok, 41), tc.hold, tc.piece, tc.gap) })
			v := &Vault{Client: c, Login: approle(), Retries: -1}
			if err := v.ready(context.Background()); err != nil {
				t.Fatalf("login: %v", err)
			}
			if c.Token() != tok {
				t.Errorf("token %q after login", c.Token())
			}
			if err := v.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(f.revoked) != 1 || f.revoked[0] != tok {
				t.Errorf("revoked %v, want the login's token", f.revoked)
			}
		})
	}
}

// A login answer cut short is retried as an outage; a token the part that arrived names is
// revoked at once, since nothing else could.
func TestLoginAnswerCut(t *testing.T) {
	lost := "hvs.lost-in-transit"
	tests := []struct {
		name       string
		cut        func(body []byte) int // bytes sent before the connection drops
		wantRevoke []string
	}{
		{"after the token", func(b []byte) int { return bytes.Index(b, []byte(lost)) + len(lost) + 1 }, []string{lost, "hvs.second"}},
		{"inside the token", func(b []byte) int { return bytes.Index(b, []byte(lost)) + 4 }, []string{"hvs.second"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeVault{}
			c := f.client(t, func(n int, w http.ResponseWriter) {
				if n > 1 {
					dribble(w, loginAnswer("hvs.second", 3), 0, 1<<20, 0)
					return
				}
				body := loginAnswer(lost, 41)
				w.Header().Set("Content-Length", "99999")
				w.WriteHeader(http.StatusOK)
				w.Write(body[:tt.cut(body)])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			})
			var logs bytes.Buffer
			v := &Vault{Client: c, Login: approle(), Retries: 1, Backoff: time.Millisecond, Logger: slogTo(&logs)}
			if err := v.ready(context.Background()); err != nil {
				t.Fatalf("login: %v", err)
			}
			if err := v.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if strings.Join(f.revoked, " ") != strings.Join(tt.wantRevoke, " ") {
				t.Errorf("revoked %v, want %v", f.revoked, tt.wantRevoke)
			}
			if !strings.Contains(logs.String(), "the answer was cut short") {
				t.Errorf("the retry does not say why:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), lost) || strings.Contains(logs.String(), "s3cret-id") {
				t.Errorf("log reveals a credential:\n%s", logs.String())
			}
		})
	}
	t.Run("every attempt cut: an outage", func(t *testing.T) {
		f := &fakeVault{}
		c := f.client(t, func(_ int, w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"auth":`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		v := &Vault{Client: c, Login: approle(), Retries: 1, Backoff: time.Millisecond}
		err := v.ready(context.Background())
		if !errors.Is(err, ErrVaultUnreachable) || !IsUnavailable(err) || !strings.Contains(err.Error(), "the answer was cut short") || !strings.Contains(err.Error(), "(after 2 attempts)") {
			t.Fatalf("error = %v, want an unavailable Vault after 2 attempts", err)
		}
		if f.logins != 2 {
			t.Errorf("%d logins, want 2", f.logins)
		}
	})
}

// countingCall runs call with fn failing with err every time and returns how often fn ran.
func countingCall(v *Vault, path string, err error) (int, error) {
	n := 0
	_, cerr := call(context.Background(), v, vaultOp{path: path, capability: "read"}, func(context.Context) (int, error) {
		n++
		return 0, err
	})
	return n, cerr
}

// One outage, one budget: once a call has spent its retries on Vault being down, the run's
// later calls fail at once with that outage instead of each spending its own.
func TestOutageSharesOneBudget(t *testing.T) {
	v := &Vault{Retries: 2, Backoff: time.Millisecond}
	down := &api.ResponseError{StatusCode: 503, Errors: []string{"no healthy upstream"}}
	n, err := countingCall(v, "transit/keys/a", down)
	if n != 3 || !IsUnavailable(err) {
		t.Fatalf("first call: %d attempts, %v", n, err)
	}
	n, err = countingCall(v, "transit/keys/b", down)
	if n != 0 {
		t.Errorf("second call made %d attempts during the same outage, want 0", n)
	}
	want := "unexpected vault response: transit/keys/b: not tried, this run already gave up on Vault: transit/keys/a: HTTP 503: no healthy upstream (after 3 attempts)"
	if !IsUnavailable(err) || err.Error() != want {
		t.Errorf("second call error = %v\nwant %s", err, want)
	}
	if vaultFix(err) == "" {
		t.Errorf("no fix: %v", err)
	}
	// Revoking the run's token is still tried once.
	calls := 0
	_, _ = call(context.Background(), v, vaultOp{path: "auth/token/revoke-self", evenIfDown: true}, func(context.Context) (int, error) {
		calls++
		return 0, nil
	})
	if calls != 1 {
		t.Errorf("revoke-self was tried %d times during the outage, want 1", calls)
	}
	// A refusal is not an outage: it spends no budget of other calls.
	v2 := &Vault{Retries: 2, Backoff: time.Millisecond}
	countingCall(v2, "transit/keys/a", &api.ResponseError{StatusCode: 403})
	if n, _ := countingCall(v2, "transit/keys/b", down); n != 3 {
		t.Errorf("after a 403 the next call made %d attempts, want 3", n)
	}
}

// Retry-After is honoured: the retry waits at least as long as Vault asks, and a wait longer
// than a run would sensibly take ends the retries at once, saying so.
func TestRetryAfter(t *testing.T) {
	var (
		mu    sync.Mutex
		times []time.Time
	)
	retryAfter := "1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", retryAfter)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"errors":["request path \"transit/keys/jwt\": rate limit quota exceeded"]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":{"type":"ed25519"}}`)
	}))
	defer srv.Close()
	c, err := api.NewClient(&api.Config{Address: srv.URL, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	v := &Vault{Client: c, Retries: 3, Backoff: time.Millisecond}
	if _, err := v.read(context.Background(), "transit/keys/jwt", nil); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[1].Sub(times[0]) < time.Second {
		t.Errorf("%d requests, retried after %v; want 2, at least 1s apart (Retry-After: 1)", len(times), times[len(times)-1].Sub(times[0]))
	}

	times, retryAfter = nil, "120"
	v = &Vault{Client: c, Retries: 3, Backoff: time.Millisecond}
	_, err = v.read(context.Background(), "transit/keys/jwt", nil)
	if len(times) != 1 || !IsUnavailable(err) || !strings.Contains(err.Error(), "Vault asks to retry after 2m0s") {
		t.Errorf("%d requests, error %v; want 1, an outage naming the wait", len(times), err)
	}
}

func TestAttemptsGrammar(t *testing.T) {
	_, err := countingCall(&Vault{Retries: -1}, "transit/keys/jwt", &api.ResponseError{StatusCode: 500})
	if strings.Contains(err.Error(), "attempts") {
		t.Errorf("a single attempt is counted: %v", err)
	}
	_, err = countingCall(&Vault{Retries: 1, Backoff: 1}, "transit/keys/jwt", &api.ResponseError{StatusCode: 500})
	if !strings.HasSuffix(err.Error(), "(after 2 attempts)") {
		t.Errorf("error = %v", err)
	}
}

// Every source of a run fails a failed login with the same value, so that it is reported once.
func TestSharedLoginFailure(t *testing.T) {
	f := &fakeVault{}
	c := f.client(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":["invalid role or secret ID"]}`)
	})
	v := &Vault{Client: c, Login: approle(), Retries: -1}
	var errs []error
	for _, s := range []sources.Source{
		&Transit{Mount: "transit", Name: "a", Vault: v},
		&KV{Path: "secret/jwt", Field: "pem", Vault: v},
		&OIDC{Vault: v},
	} {
		_, err := s.Keys(context.Background())
		errs = append(errs, err)
	}
	first := SharedFailure(errs[0])
	if first == nil || !errors.Is(errs[0], ErrVaultLogin) {
		t.Fatalf("SharedFailure(%v) = nil", errs[0])
	}
	for _, err := range errs[1:] {
		if SharedFailure(err) != first {
			t.Errorf("%v is not the same failure", err)
		}
	}
	if f.logins != 1 {
		t.Errorf("%d logins, want 1", f.logins)
	}
	if SharedFailure(&sources.Error{Err: ErrVaultDenied}) != nil {
		t.Error("a source's own error counted as shared")
	}
}
