//go:build integration

package integration

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// faultProxy sits in front of the real Vault: fault decides, per request number (from 1),
// whether to answer itself (true) or pass the request through.
func vaultFaultProxy(t *testing.T, vaultAddr string, fault func(n int64, w http.ResponseWriter, r *http.Request) bool) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault(n.Add(1), w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
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
			name: "500 every time: bounded",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				writeVaultError(w, 502, "bad gateway")
				return true
			},
			retries: 2, requests: 3, wantErr: sources.ErrVaultResponse, contains: "HTTP 502: bad gateway (after 3 attempts)",
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
			wantErr: sources.ErrVaultUnreachable, contains: "no answer within 300ms (after 2 attempts)",
		},
		{
			name: "garbage JSON: not retried",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"data": {"keys": [not json`))
				return true
			},
			retries: 3, requests: 1, wantErr: sources.ErrVaultResponse, contains: "decoding the answer",
		},
		{
			name: "valid JSON of the wrong shape",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"data": {"type": "ed25519", "latest_version": 2, "min_decryption_version": 1, "keys": {"1": {"public_key": "AAAA"}}}}`))
				return true
			},
			retries: 3, requests: 1, wantErr: sources.ErrVaultResponse, contains: "version 2 is missing",
		},
		{
			name: "sealed: not retried, says so",
			fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
				writeVaultError(w, 503, "Vault is sealed")
				return true
			},
			retries: 3, requests: 1, wantErr: sources.ErrVaultSealed, contains: "vault is sealed: reading " + mount + "/keys/jwt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, n := vaultFaultProxy(t, e.addr, tt.fault)
			v := &sources.Vault{Client: vaultClient(t, addr, "root"), Retries: tt.retries, Timeout: tt.timeout, Backoff: 10 * time.Millisecond}
			start := time.Now()
			keys, err := vaultSource(t, v, spec).Keys(context.Background())
			elapsed := time.Since(start)
			if got := n.Load(); got != tt.requests {
				t.Errorf("%d requests reached the proxy, want %d", got, tt.requests)
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
		v := &sources.Vault{Client: vaultClient(t, addr, "root"), Retries: 2, Backoff: 10 * time.Millisecond}
		_, err = vaultSource(t, v, spec).Keys(context.Background())
		if !errors.Is(err, sources.ErrVaultUnreachable) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "after 3 attempts") {
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
		v := &sources.Vault{Client: vaultClient(t, dead, "root"), Retries: 5, Backoff: 2 * time.Second}
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
	v := &sources.Vault{Client: c, Retries: 1, Backoff: time.Millisecond,
		Login: &sources.VaultLogin{Method: sources.AuthAppRole, RoleID: "r", SecretID: "s3cr3t-id"}}
	for _, spec := range []string{"vault-transit:transit/a", "vault-transit:transit/b", "vault-kv:secret/jwt#pem"} {
		_, err := vaultSource(t, v, sources.Spec{Spec: spec}).Keys(context.Background())
		if !sources.IsUnavailable(err) || !strings.Contains(err.Error(), "auth/approle/login: HTTP 503") {
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
