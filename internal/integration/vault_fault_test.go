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
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// vaultProxy sits in front of the real Vault: fault decides, per request number (from 1),
// whether to answer itself (true) or pass the request through; shape, when set, delivers the
// answers it passes through the way a slow network does. It records the tokens Vault issued
// in the login answers it passed through, so that tests can check each was revoked.
type vaultProxy struct {
	URL string
	n   atomic.Int64

	mu     sync.Mutex
	issued []string
}

// answerShape is how a slow network delivers an answer: the headers, nothing for Hold, then
// the body in pieces of Piece bytes (0: whole), Gap apart.
type answerShape struct {
	Hold  time.Duration
	Piece int
	Gap   time.Duration
}

func newVaultProxy(t *testing.T, vaultAddr string, fault func(n int64, w http.ResponseWriter, r *http.Request) bool, shape *answerShape) *vaultProxy {
	t.Helper()
	u, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &vaultProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.n.Add(1)
		if fault != nil && fault(n, w, r) {
			return
		}
		sw := &shapedWriter{ResponseWriter: w, shape: shape}
		rp.ServeHTTP(sw, r)
		if strings.HasSuffix(r.URL.Path, "/login") {
			if tok := issuedToken(sw.body.Bytes()); tok != "" {
				p.mu.Lock()
				p.issued = append(p.issued, tok)
				p.mu.Unlock()
			}
		}
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// faultProxy is a vaultProxy without shaping; it returns its address and request counter.
func vaultFaultProxy(t *testing.T, vaultAddr string, fault func(n int64, w http.ResponseWriter, r *http.Request) bool) (string, *atomic.Int64) {
	p := newVaultProxy(t, vaultAddr, fault, nil)
	return p.URL, &p.n
}

// tokens returns the tokens Vault issued through the proxy so far.
func (p *vaultProxy) tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.issued)
}

func issuedToken(body []byte) string {
	var a struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	json.Unmarshal(body, &a)
	return a.Auth.ClientToken
}

// shapedWriter passes an answer on as its shape says, and keeps a copy of the body.
type shapedWriter struct {
	http.ResponseWriter
	shape *answerShape
	body  bytes.Buffer
	held  bool
}

func (w *shapedWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if w.shape != nil {
		// The headers leave now; the body follows only after the hold.
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *shapedWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	if w.shape == nil {
		return w.ResponseWriter.Write(b)
	}
	rc := http.NewResponseController(w.ResponseWriter)
	if !w.held {
		w.held = true
		time.Sleep(w.shape.Hold)
	}
	written := 0
	for len(b) > 0 {
		n := len(b)
		if w.shape.Piece > 0 {
			n = min(n, w.shape.Piece)
		}
		m, err := w.ResponseWriter.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		rc.Flush()
		b = b[n:]
		time.Sleep(w.shape.Gap)
	}
	return written, nil
}

func (w *shapedWriter) Flush()                      { http.NewResponseController(w.ResponseWriter).Flush() }
func (w *shapedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// slowNetworks are the shapes every login and read must survive: the body 50 ms after the
// headers, and 1,400-byte pieces (about one TCP segment each) 2 ms apart.
var slowNetworks = []struct {
	name  string
	shape answerShape
}{
	{"body 50ms after the headers", answerShape{Hold: 50 * time.Millisecond}},
	{"1400-byte pieces 2ms apart", answerShape{Piece: 1400, Gap: 2 * time.Millisecond}},
}

// revoked fails the test for each token that still works.
func (e *vaultEnv) revoked(t *testing.T, tokens []string) {
	t.Helper()
	for i, tok := range tokens {
		if _, err := e.root.Auth().Token().Lookup(tok); err == nil {
			t.Errorf("token %d of %d Vault issued still works", i+1, len(tokens))
		}
	}
}

func writeVaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write([]byte(`{"errors":["` + msg + `"]}`))
}

func TestVaultFaults(t *testing.T) {
	e := newVaultEnv(t)
	mount := e.mount(t, "transit", nil)
	e.write(t, mount+"/keys/jwt", map[string]any{"type": "ed25519"})
	spec := sources.Spec{Spec: "vault-transit:" + mount + "/jwt"}

	tests := []struct {
		name     string
		fault    func(n int64, w http.ResponseWriter, r *http.Request) bool
		retries  int
		timeout  time.Duration
		wantErr  error // nil: the read succeeds
		contains string
		requests int64
		// minElapsed is how long the read must at least have taken (Retry-After).
		minElapsed time.Duration
	}{
		{
			name: "500s then success: retried",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					writeVaultError(w, 500, "injected failure")
					return true
				}
				return false
			},
			retries: 3, requests: 3,
		},
		{
			name: "429 then success: retried",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					writeVaultError(w, 429, "request rate limit exceeded")
					return true
				}
				return false
			},
			retries: 3, requests: 2,
		},
		{
			name: "429 with Retry-After: the retry waits as asked",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					writeVaultError(w, 429, "request rate limit exceeded")
					return true
				}
				return false
			},
			retries: 3, requests: 2, minElapsed: time.Second,
		},
		{
			name: "503 asking for minutes: not worth a retry",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", "600")
				writeVaultError(w, 503, "maintenance")
				return true
			},
			retries: 3, requests: 1, wantErr: vault.ErrVaultResponse, contains: "HTTP 503: maintenance (Vault asks to retry after 10m0s)",
		},
		{
			name: "500 every time: bounded",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				writeVaultError(w, 502, "bad gateway")
				return true
			},
			retries: 2, requests: 3, wantErr: vault.ErrVaultResponse, contains: "HTTP 502: bad gateway (after 3 attempts)",
		},
		{
			name: "a hang: each attempt times out",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return true
			},
			retries: 1, timeout: 300 * time.Millisecond, requests: 2,
			wantErr: vault.ErrVaultUnreachable, contains: "no answer within 300ms (after 2 attempts)",
		},
		{
			name: "garbage JSON: not retried",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"data": {"keys": [not json`))
				return true
			},
			retries: 3, requests: 1, wantErr: vault.ErrVaultResponse, contains: "decoding the answer",
		},
		{
			name: "valid JSON of the wrong shape",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"data": {"type": "ed25519", "latest_version": 2, "min_decryption_version": 1, "keys": {"1": {"public_key": "AAAA"}}}}`))
				return true
			},
			retries: 3, requests: 1, wantErr: vault.ErrVaultResponse, contains: "version 2 is missing",
		},
		{
			name: "sealed: not retried, says so",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				writeVaultError(w, 503, "Vault is sealed")
				return true
			},
			retries: 3, requests: 1, wantErr: vault.ErrVaultSealed, contains: "vault is sealed: reading " + mount + "/keys/jwt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, n := vaultFaultProxy(t, e.addr, tt.fault)
			v := &vault.Vault{Client: vaultClient(t, addr, "root"), Retries: tt.retries, Timeout: tt.timeout, Backoff: 10 * time.Millisecond}
			start := time.Now()
			keys, err := vaultSource(t, v, spec).Keys(context.Background())
			elapsed := time.Since(start)
			if got := n.Load(); got != tt.requests {
				t.Errorf("%d requests reached the proxy, want %d", got, tt.requests)
			}
			if elapsed < tt.minElapsed {
				t.Errorf("took %s, want at least %s", elapsed, tt.minElapsed)
			}
			if tt.wantErr == nil {
				if err != nil || len(keys) != 1 {
					t.Fatalf("%d keys, %v", len(keys), err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("error = %v\nwant %v containing %q", err, tt.wantErr, tt.contains)
			}
			if len(keys) != 0 {
				t.Errorf("a failed read returned %d keys", len(keys))
			}
			if tt.timeout > 0 && elapsed > time.Duration(tt.requests)*tt.timeout+2*time.Second {
				t.Errorf("took %s: the timeout did not bound the attempts", elapsed)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := "http://" + l.Addr().String()
		l.Close() // nothing listens there now
		v := &vault.Vault{Client: vaultClient(t, addr, "root"), Retries: 2, Backoff: 10 * time.Millisecond}
		_, err = vaultSource(t, v, spec).Keys(context.Background())
		if !errors.Is(err, vault.ErrVaultUnreachable) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Fatalf("error = %v", err)
		}
		if !strings.Contains(err.Error(), "fix: check VAULT_ADDR") {
			t.Errorf("no fix in %v", err)
		}
	})
	t.Run("cancelled by the caller during backoff", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + l.Addr().String()
		l.Close()
		v := &vault.Vault{Client: vaultClient(t, dead, "root"), Retries: 5, Backoff: 2 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := vaultSource(t, v, spec).Keys(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Fatalf("error = %v after %s", err, time.Since(start))
		}
	})
}

// TestVaultLoginOnceDuringOutage: with Vault down, the login is tried once (with its retries)
// for the whole run, not once per source.
func TestVaultLoginOnceDuringOutage(t *testing.T) {
	e := newVaultEnv(t)
	addr, n := vaultFaultProxy(t, e.addr, func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		writeVaultError(w, 503, "no healthy upstream")
		return true
	})
	c := vaultClient(t, addr, "")
	c.ClearToken()
	v := &vault.Vault{Client: c, Retries: 1, Backoff: time.Millisecond,
		Login: &vault.VaultLogin{Method: vault.AuthAppRole, RoleID: "r", SecretID: "s3cr3t-id"}}
	for _, spec := range []string{"vault-transit:transit/a", "vault-transit:transit/b", "vault-kv:secret/jwt#pem"} {
		_, err := vaultSource(t, v, sources.Spec{Spec: spec}).Keys(context.Background())
		if !vault.IsUnavailable(err) || !strings.Contains(err.Error(), "auth/approle/login: HTTP 503") {
			t.Fatalf("%s: error = %v", spec, err)
		}
		if strings.Contains(err.Error(), "s3cr3t-id") {
			t.Fatalf("error reveals the secret id: %v", err)
		}
	}
	if got := n.Load(); got != 2 {
		t.Errorf("%d requests for three sources, want 2 (one login and its retry)", got)
	}
}

// TestVaultOutageOneBudget: three sources during one outage (every request hangs) spend one
// call's retries, not three: the run ends after about (1+retries) timeouts.
func TestVaultOutageOneBudget(t *testing.T) {
	e := newVaultEnv(t)
	addr, n := vaultFaultProxy(t, e.addr, func(_ int64, _ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	})
	v := &vault.Vault{Client: vaultClient(t, addr, "root"), Retries: 2, Timeout: 200 * time.Millisecond, Backoff: 10 * time.Millisecond}
	specs := []string{"vault-transit:transit/a", "vault-transit:transit/b", "vault-kv:secret/jwt#pem"}
	set := &config.SetConfig{Name: "prod"}
	var srcs []sources.Source
	for _, spec := range specs {
		set.Sources = append(set.Sources, config.SourceConfig{Spec: sources.Spec{Spec: spec, Optional: true}})
		srcs = append(srcs, vaultSource(t, v, sources.Spec{Spec: spec, Optional: true}))
	}
	built, err := publish.Build(context.Background(), publish.BuildOptions{Set: set, Sources: srcs, KeepsLive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Unavailable) != 3 {
		t.Errorf("unavailable %v, want all three", built.Unavailable)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests reached Vault during the outage, want 3 (one call and its 2 retries)", got)
	}
}

// TestVaultSlowNetwork reads every kind of source with a token through a network that
// delivers Vault's answers late and in pieces, repeatedly.
func TestVaultSlowNetwork(t *testing.T) {
	e := newVaultEnv(t)
	transit := e.mount(t, "transit", nil)
	e.write(t, transit+"/keys/jwt", map[string]any{"type": "rsa-4096"})
	e.write(t, transit+"/keys/jwt/rotate", nil)
	e.write(t, transit+"/keys/jwt/rotate", nil) // three 4096-bit versions: a 3 KB answer
	kv := e.mount(t, "kv", map[string]string{"version": "2"})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.write(t, kv+"/data/jwt", map[string]any{"data": map[string]any{"pem": pemOf(t, &k.PublicKey)}})
	e.oidcKey(t)
	specs := map[string]int{"vault-transit:" + transit + "/jwt": 3, "vault-kv:" + kv + "/jwt#pem": 1}
	for _, net := range slowNetworks {
		t.Run(net.name, func(t *testing.T) {
			p := newVaultProxy(t, e.addr, nil, &net.shape)
			for i := range 5 {
				v := &vault.Vault{Client: vaultClient(t, p.URL, os.Getenv("JWKSPUB_IT_VAULT_TOKEN")), Retries: -1}
				for spec, want := range specs {
					keys, err := vaultSource(t, v, sources.Spec{Spec: spec}).Keys(context.Background())
					if err != nil || len(keys) != want {
						t.Fatalf("run %d, %s: %d keys, %v", i+1, spec, len(keys), err)
					}
				}
				if keys, err := vaultSource(t, v, sources.Spec{Spec: "vault-oidc:"}).Keys(context.Background()); err != nil || len(keys) == 0 {
					t.Fatalf("run %d, vault-oidc: %d keys, %v", i+1, len(keys), err)
				}
			}
		})
	}
}
