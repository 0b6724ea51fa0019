package issuer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// ecJWK is a fresh P-256 public JWK with kid, plus extra members.
func ecJWK(t testing.TB, kid string, extra map[string]any) map[string]any {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := make([]byte, 32), make([]byte, 32)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "alg": "ES256", "use": "sig"}
	if kid != "" {
		m["kid"] = kid
	}
	for n, v := range extra {
		m[n] = v
	}
	return m
}

func jwksJSON(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDocument(t *testing.T) {
	at := sources.Origin{Source: "https://issuer.example/jwks"}
	good := jwksJSON(t, ecJWK(t, "a", nil), ecJWK(t, "b", map[string]any{"alg": "ES256"}))
	for _, tc := range []struct {
		name, ctype, body string
		kids              []string // wanted, when no error
		jwksURI           string
		is                error  // wanted error
		msg               string // in the wanted error's message
	}{
		{name: "jwks", ctype: "application/json", body: string(good), kids: []string{"a", "b"}},
		{name: "jwk-set content type, BOM", ctype: "application/jwk-set+json", body: "\xef\xbb\xbf" + string(good), kids: []string{"a", "b"}},
		{name: "discovery", body: `{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/keys"}`, jwksURI: "https://issuer.example/keys"},
		{name: "html by type", ctype: "text/html; charset=utf-8", body: `{"keys":[]}`, is: ErrHTML, msg: "https://issuer.example/jwks: an HTML page, not a JWK Set"},
		{name: "html by body", ctype: "application/json", body: "\n<!doctype html><title>Sign in</title>", is: ErrHTML},
		{name: "not json", body: "keys", is: ErrNotDocument, msg: "not a JSON object"},
		{name: "neither", body: `{"issuer":"https://issuer.example"}`, is: ErrNotDocument, msg: `no "keys" and no "jwks_uri"`},
		{name: "jwks_uri plain http", body: `{"jwks_uri":"http://issuer.example/keys"}`, is: ErrInsecureURL, msg: "plain http to a non-loopback host"},
		{name: "jwks_uri not a string", body: `{"jwks_uri":7}`, is: ErrJWKSURI},
		{name: "private member", body: string(jwksJSON(t, ecJWK(t, "a", nil), ecJWK(t, "leak", map[string]any{"d": "AAAA"}))), is: sources.ErrPrivateKey,
			msg: `https://issuer.example/jwks key 2: private key material refused in the issuer's JWK Set: key (kid "leak") has member(s) d`},
		{name: "symmetric", body: `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`, is: ErrPrivateMember, msg: "member(s) k"},
		{name: "duplicate kid", body: string(jwksJSON(t, ecJWK(t, "a", nil), ecJWK(t, "b", nil), ecJWK(t, "a", nil))), is: ErrDuplicateKID,
			msg: `https://issuer.example/jwks key 3: duplicate kid in the issuer's JWK Set: kid "a" is also key 1's`},
		{name: "empty set", body: `{"keys":[]}`, is: sources.ErrNoKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// DerivePublic must not turn an issuer's leaked private key into a public one.
			doc, err := ParseDocument([]byte(tc.body), tc.ctype, at, sources.Options{DerivePublic: true})
			if tc.is != nil {
				if !errors.Is(err, tc.is) {
					t.Fatalf("error %v, want %v", err, tc.is)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q does not say %q", err, tc.msg)
				}
				if !strings.Contains(err.Error(), at.Source) {
					t.Fatalf("error %q does not name the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.JWKSURI != tc.jwksURI {
				t.Fatalf("jwks_uri %q, want %q", doc.JWKSURI, tc.jwksURI)
			}
			var kids []string
			for _, k := range doc.Keys {
				kids = append(kids, k.KID)
				if k.Alg != "ES256" {
					t.Errorf("kid %s: alg %q, want the issuer's ES256", k.KID, k.Alg)
				}
			}
			if fmt.Sprint(kids) != fmt.Sprint(tc.kids) {
				t.Fatalf("kids %v, want %v", kids, tc.kids)
			}
		})
	}
}

func TestCheckSpec(t *testing.T) {
	for spec, want := range map[string]string{
		"https://issuer.example/.well-known/openid-configuration": "",
		"http://127.0.0.1:8080/jwks":                              "",
		"http://localhost/jwks":                                   "",
		"http://issuer.example/jwks":                              "plain http to a non-loopback host",
		"https://user:secret@issuer.example/jwks":                 "carries credentials in the URL",
		"https:///jwks":                                           "has no host",
	} {
		err := CheckSpec(sources.Spec{Spec: spec})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", spec, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", spec, err, want)
		case strings.Contains(fmt.Sprint(err), "secret"):
			t.Errorf("%s: the error shows the password: %v", spec, err)
		}
	}
}

// newSource builds the source of spec through sources.New, as the command does, with fast
// retries.
func newSource(t *testing.T, spec sources.Spec, log io.Writer) sources.Source {
	return newSourceTimeout(t, spec, log, 500*time.Millisecond)
}

func newSourceTimeout(t *testing.T, spec sources.Spec, log io.Writer, timeout time.Duration) sources.Source {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(log, nil))
	f := &Fetcher{Timeout: timeout, Retries: 2, Backoff: time.Millisecond, Logger: logger}
	s, err := sources.New(spec, sources.Options{Issuer: f, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The faults below are injected with httptest servers; the integration suite reads the same
// documents from real nginx and Vault.
func TestFetchFaults(t *testing.T) {
	set := jwksJSON(t, ecJWK(t, "a", nil))
	type answer func(w http.ResponseWriter, r *http.Request, n int) // n counts requests from 1
	status := func(code int, header ...string) answer {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
		}
	}
	ok := func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}
	reset := func(w http.ResponseWriter, r *http.Request, n int) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	for _, tc := range []struct {
		name     string
		answer   answer
		optional bool
		requests int    // wanted requests
		keys     int    // wanted keys, when no error
		is       error  // wanted error
		msg      string // in the error
		down     bool   // sources.IsUnavailable
		slow     bool   // a long answer: a timeout of 30s, not 500ms (-race reads 16 MiB slowly)
	}{
		{name: "503 then ok", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			if n < 3 {
				status(503)(w, r, n)
				return
			}
			ok(w, r, n)
		}, requests: 3, keys: 1},
		{name: "always 500", answer: status(500), requests: 3, is: ErrUnreachable, msg: "HTTP 500 Internal Server Error (after 3 attempts)", down: true},
		{name: "429 too long to wait for", answer: status(429, "Retry-After", "3600"), requests: 1, is: ErrUnreachable, msg: "the issuer asks to retry after 1h0m0s", down: true},
		{name: "501 is final", answer: status(501), requests: 1, is: ErrResponse},
		{name: "401", answer: status(401), requests: 1, is: ErrDenied, msg: "set token_file"},
		{name: "404", answer: status(404), requests: 1, is: ErrNotFound, msg: "HTTP 404 Not Found"},
		{name: "404 optional", answer: status(404), optional: true, requests: 1},
		{name: "reset", answer: reset, requests: 3, is: ErrUnreachable, down: true},
		{name: "hang", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, requests: 3, is: ErrUnreachable, msg: "no answer within 500ms", down: true},
		{name: "cut short", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Length", "1000")
			w.Write(set[:10])
		}, requests: 3, is: ErrUnreachable, down: true},
		{name: "too large", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			w.Write(bytes.Repeat([]byte(" "), MaxDocumentBytes+1))
		}, requests: 1, is: ErrResponse, msg: "larger than", slow: true},
		{name: "redirect to plain http", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, "http://issuer.example/jwks", http.StatusFound)
		}, requests: 1, is: ErrInsecureURL, msg: "redirect from http://127.0.0.1"},
		{name: "redirect loop", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			http.Redirect(w, r, fmt.Sprintf("/r%d", n), http.StatusFound)
		}, requests: MaxRedirects + 1, is: ErrResponse, msg: "more than 5 redirects"},
		{name: "html with 200", answer: func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>Sign in</html>")
		}, requests: 1, is: ErrHTML},
		{name: "html optional is still wrong", optional: true, answer: func(w http.ResponseWriter, r *http.Request, n int) {
			io.WriteString(w, "<html>Sign in</html>")
		}, requests: 1, is: ErrHTML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.answer(w, r, int(n.Add(1)))
			}))
			defer srv.Close()
			timeout := 500 * time.Millisecond
			if tc.slow {
				timeout = 30 * time.Second
			}
			keys, err := newSourceTimeout(t, sources.Spec{Spec: srv.URL + "/jwks", Optional: tc.optional}, nil, timeout).Keys(context.Background())
			if got := int(n.Load()); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			if tc.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) != tc.keys {
					t.Fatalf("%d keys, want %d", len(keys), tc.keys)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v saying %q", err, tc.is, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), srv.URL+"/jwks: ") {
				t.Errorf("error %q does not start with the source", err)
			}
			if got := sources.IsUnavailable(err); got != tc.down {
				t.Errorf("IsUnavailable = %v, want %v", got, tc.down)
			}
		})
	}
}

// TestDiscoveryAndToken: a discovery document leads to its jwks_uri, the bearer token goes to
// both, and the token shows in no message or log even when refused.
func TestDiscoveryAndToken(t *testing.T) {
	const token = "s3cr3t-token-value"
	set := jwksJSON(t, ecJWK(t, "k1", nil), ecJWK(t, "k2", nil))
	var srv *httptest.Server
	refuse := false
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/keys")
		case "/keys":
			w.Write(set)
		case "/loop":
			fmt.Fprintf(w, `{"jwks_uri":%q}`, srv.URL+"/loop")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	spec := sources.Spec{Spec: srv.URL + "/.well-known/openid-configuration", TokenFile: tokFile}
	keys, err := newSource(t, spec, &log).Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KID != "k1" || keys[1].KID != "k2" {
		t.Fatalf("keys %+v", keys)
	}
	if want := "jwks_uri " + srv.URL + "/keys key 1"; keys[0].Origin.Location != want {
		t.Errorf("origin %q, want location %q", keys[0].Origin, want)
	}

	_, err = newSource(t, sources.Spec{Spec: srv.URL + "/loop", TokenFile: tokFile}, &log).Keys(context.Background())
	if !errors.Is(err, ErrNotDocument) || !strings.Contains(err.Error(), "names another jwks_uri") {
		t.Fatalf("a jwks_uri naming another: %v", err)
	}

	refuse = true
	_, err = newSource(t, spec, &log).Keys(context.Background())
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "the token in token_file was refused") {
		t.Fatalf("refused token: %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(log.String(), token) {
		t.Fatalf("the token leaked: %v\n%s", err, log.String())
	}
}

// TestTLS: an issuer whose CA is not trusted is refused at once, naming ca_file; with its CA
// in ca_file it is read.
func TestTLS(t *testing.T) {
	set := jwksJSON(t, ecJWK(t, "a", nil))
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write(set)
	}))
	defer srv.Close()
	_, err := newSource(t, sources.Spec{Spec: srv.URL + "/jwks"}, nil).Keys(context.Background())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "set ca_file") || sources.IsUnavailable(err) {
		t.Fatalf("untrusted CA: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := newSource(t, sources.Spec{Spec: srv.URL + "/jwks", CAFile: ca}, nil).Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("with ca_file: %d keys, %v", len(keys), err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests: the TLS failure was retried", n.Load())
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o644)
	if _, err := newSource(t, sources.Spec{Spec: srv.URL + "/jwks", CAFile: bad}, nil).Keys(context.Background()); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("bad ca_file: %v", err)
	}
}
