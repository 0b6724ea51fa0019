//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/issuer"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// issuerToken is the bearer token the test nginx requires on /k8s/openid/v1/jwks, as a
// Kubernetes API server does on its service-account issuer's keys.
const issuerToken = "it-issuer-token-7f3a9c"

// privateCA is a CA made for one test, and a server certificate it signed for 127.0.0.1.
type privateCA struct {
	CAFile, CertFile, KeyFile string
	pool                      *x509.CertPool
}

func newPrivateCA(t *testing.T, dir string) privateCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jwkspub test issuer CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := privateCA{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"), pool: x509.NewCertPool()}
	ca.pool.AddCert(caCert)
	for path, b := range map[string]*pem.Block{
		ca.CAFile: {Type: "CERTIFICATE", Bytes: caDER}, ca.CertFile: {Type: "CERTIFICATE", Bytes: srvDER}, ca.KeyFile: {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		// World-readable: nginx runs as nobody. The key is a throwaway of this test.
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ca
}

// issuerDocs writes an issuer's documents into dir: a JWK Set of an EC and an RSA key with the
// issuer's own kids and algs, a discovery document naming base's JWKS, and an HTML login page.
func issuerDocs(t *testing.T, dir, base string) map[string]string {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := make([]byte, 32), make([]byte, 32)
	ec.X.FillBytes(x)
	ec.Y.FillBytes(y)
	set, _ := json.Marshal(map[string]any{"keys": []map[string]any{
		{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": "issuer-ec-1", "alg": "ES256", "use": "sig"},
		{"kty": "RSA", "n": b64(rk.N.Bytes()), "e": "AQAB", "kid": "issuer-rsa-1", "alg": "PS256", "use": "sig"},
	}})
	disc := fmt.Sprintf(`{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["ES256","PS256"]}`, base, base+"/.well-known/jwks.json")
	files := map[string]string{"jwks.json": string(set), "openid-configuration": disc, "login.html": "<!doctype html><title>Sign in</title>"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"issuer-ec-1": "ES256", "issuer-rsa-1": "PS256"}
}

// startIssuerNginx serves an issuer's documents with real nginx over TLS (a private CA's
// certificate): the JWKS, the discovery document, the JWKS again behind a bearer token, an
// HTML page answered with 200, and /.well-known/jwks.json answering 503 while the file "down"
// exists in the document directory. It returns the https base URL and the document directory.
func startIssuerNginx(t *testing.T) (base, docs string, ca privateCA) {
	t.Helper()
	nginxBin := needEnv(t, "JWKSPUB_NGINX")
	run := sharedTempDir(t, "jwkspub-issuer-*")
	docs = filepath.Join(run, "docs")
	if err := os.Mkdir(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	ca = newPrivateCA(t, run)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base = "https://" + listen
	issuerDocs(t, docs, base)
	server := fmt.Sprintf(`	server {
		listen %[1]s ssl;
		ssl_certificate %[2]s;
		ssl_certificate_key %[3]s;
		default_type application/json;
		location = /.well-known/jwks.json {
			if (-f %[4]s/down) { return 503; }
			alias %[4]s/jwks.json;
		}
		location = /.well-known/openid-configuration { alias %[4]s/openid-configuration; }
		location = /k8s/openid/v1/jwks {
			if ($http_authorization != "Bearer %[5]s") { return 401; }
			alias %[4]s/jwks.json;
		}
		location = /login { default_type text/html; alias %[4]s/login.html; }
	}
`, listen, ca.CertFile, ca.KeyFile, docs, issuerToken)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	runNginxConf(t, nginxBin, run, server, func() error {
		resp, err := client.Get(base + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("discovery: %s", resp.Status)
		}
		return nil
	})
	return base, docs, ca
}

func issuerSource(t *testing.T, spec sources.Spec) sources.Source {
	t.Helper()
	s, err := sources.New(spec, sources.Options{Issuer: &issuer.Fetcher{Retries: 1, Backoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIssuerNginx reads an issuer's keys from real nginx over TLS with a private CA: the JWKS
// URL and the discovery document give the issuer's kids and algs; the bearer-token endpoint
// needs the token; the CA must be given; an HTML page answered with 200 is refused.
func TestIssuerNginx(t *testing.T) {
	base, _, ca := startIssuerNginx(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(issuerToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"issuer-ec-1": "ES256", "issuer-rsa-1": "PS256"}
	for _, spec := range []sources.Spec{
		{Spec: base + "/.well-known/jwks.json", CAFile: ca.CAFile},
		{Spec: base + "/.well-known/openid-configuration", CAFile: ca.CAFile},
		{Spec: base + "/k8s/openid/v1/jwks", CAFile: ca.CAFile, TokenFile: tokenFile},
	} {
		keys, err := issuerSource(t, spec).Keys(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", spec.Spec, err)
		}
		set := vaultAssemble(t, keys, "")
		got := map[string]string{}
		for _, k := range set.Keys {
			got[k.KID] = k.Alg
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: published %v, want the issuer's %v", spec.Spec, got, want)
		}
	}

	for _, tc := range []struct {
		spec sources.Spec
		is   error
		msg  string
	}{
		{sources.Spec{Spec: base + "/.well-known/jwks.json"}, issuer.ErrTLS, "set ca_file"},
		{sources.Spec{Spec: base + "/k8s/openid/v1/jwks", CAFile: ca.CAFile}, issuer.ErrDenied, "HTTP 401 Unauthorized (fix: set token_file"},
		{sources.Spec{Spec: base + "/login", CAFile: ca.CAFile}, issuer.ErrHTML, base + "/login: an HTML page, not a JWK Set"},
	} {
		_, err := issuerSource(t, tc.spec).Keys(context.Background())
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v saying %q", tc.spec.Spec, err, tc.is, tc.msg)
		}
	}
}

// TestIssuerCLIOptionalDown publishes an issuer's keys through the CLI (ca_file and
// token_file from the config), then publishes again while the issuer answers 503: with
// optional: true its live keys stay published; required, the run fails and writes nothing.
func TestIssuerCLIOptionalDown(t *testing.T) {
	base, docs, ca := startIssuerNginx(t)
	dir, out := t.TempDir(), t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(issuerToken), 0o600)
	config := func(optional bool) {
		cfg := fmt.Sprintf(`sets:
  - name: mirror
    sources:
      - {spec: %q, ca_file: %q, optional: %v}
    targets:
      - file://%s
`, base+"/.well-known/openid-configuration", ca.CAFile, optional, filepath.Join(out, ".well-known", "jwks.json"))
		if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc := func() string {
		b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
		return string(b)
	}
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir}

	// token_file and ca_file from the configuration reach the fetch; the token shows nowhere.
	tokCfg := filepath.Join(dir, "token.yaml")
	os.WriteFile(tokCfg, []byte(fmt.Sprintf("sets:\n  - name: k8s\n    sources:\n      - {spec: %q, ca_file: %q, token_file: %q}\n",
		base+"/k8s/openid/v1/jwks", ca.CAFile, tokenFile)), 0o600)
	stdout, errOut, code := runJwkspub(t, bin, dir, env, "build", "--config", tokCfg, "-o", "-")
	if code != 0 || !strings.Contains(stdout, `"kid": "issuer-rsa-1"`) && !strings.Contains(stdout, `"kid":"issuer-rsa-1"`) {
		t.Fatalf("build with token_file: exit %d\n%s%s", code, stdout, errOut)
	}
	if strings.Contains(stdout+errOut, issuerToken) {
		t.Errorf("the bearer token shows in the output")
	}

	config(true)
	if _, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 {
		t.Fatalf("first publish: exit %d\n%s", code, errOut)
	}
	first := doc()
	for _, kid := range []string{`"kid":"issuer-ec-1"`, `"kid":"issuer-rsa-1"`, `"alg":"PS256"`} {
		if !strings.Contains(first, kid) {
			t.Fatalf("first publication lacks %s:\n%s", kid, first)
		}
	}

	// The discovery document stays up; its jwks_uri answers 503.
	if err := os.WriteFile(filepath.Join(docs, "down"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, errOut, code = runJwkspub(t, bin, dir, env, "publish")
	if code != 0 {
		t.Fatalf("publish with the optional issuer down: exit %d\n%s%s", code, stdout, errOut)
	}
	if !strings.Contains(errOut, "optional source unavailable") || !strings.Contains(errOut, "HTTP 503") {
		t.Errorf("no warning naming the outage:\n%s", errOut)
	}
	if doc() != first {
		t.Errorf("the live keys changed:\nbefore %s\nafter  %s", first, doc())
	}

	config(false)
	_, errOut, code = runJwkspub(t, bin, dir, env, "publish")
	if code != 1 || !strings.Contains(errOut, base+"/.well-known/openid-configuration jwks_uri "+base+"/.well-known/jwks.json: issuer unreachable: HTTP 503 Service Temporarily Unavailable (after 4 attempts)") {
		t.Fatalf("required issuer down: exit %d\n%s", code, errOut)
	}
	if doc() != first {
		t.Errorf("a failed run changed the document")
	}
}

// TestIssuerVaultOIDC reads Vault's identity OIDC keys at their public URL (loopback http:
// the dev server has no TLS) and gets what the vault-oidc: source gets: the same kids and algs.
func TestIssuerVaultOIDC(t *testing.T) {
	e := newVaultEnv(t)
	e.oidcKey(t)
	viaVault := vaultKeys(t, vaultSource(t, &vault.Vault{Client: e.root}, sources.Spec{Spec: "vault-oidc:"}))
	keys, err := issuerSource(t, sources.Spec{Spec: e.addr + "/v1/identity/oidc/.well-known/keys"}).Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kids := func(ks []sources.Key) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.KID+"/"+k.Alg)
		}
		slices.Sort(out)
		return out
	}
	if len(keys) == 0 || !slices.Equal(kids(keys), kids(viaVault)) {
		t.Fatalf("https source %v, vault-oidc: %v", kids(keys), kids(viaVault))
	}
	// Vault's discovery document leads to the same keys.
	disc, err := issuerSource(t, sources.Spec{Spec: e.addr + "/v1/identity/oidc/.well-known/openid-configuration"}).Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kids(disc), kids(keys)) {
		t.Fatalf("via discovery %v, direct %v", kids(disc), kids(keys))
	}
}

// issuerProxy is a loopback-http httptest proxy in front of the test nginx (trusting its
// private CA): fault decides, per request number (from 1), whether to answer itself (true) or
// pass the request through to nginx. n counts every request that reached the proxy.
func issuerProxy(t *testing.T, base string, ca privateCA, fault func(n int64, w http.ResponseWriter, r *http.Request) bool) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.pool}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }, Transport: tr}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault != nil && fault(n.Add(1), w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(tr.CloseIdleConnections)
	return srv.URL, &n
}

// resetConn closes the client's connection with a TCP reset, as a crashing load balancer does.
func resetConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

// TestIssuerProxyFaults puts an httptest proxy in front of the real nginx issuer: 429 (with
// Retry-After) and 503 are retried and then succeed once the issuer recovers; a hang beyond the
// per-attempt timeout is retried and fails naming the URL; a reset is retried; an HTML error
// page answered with 200 is refused at once, naming the URL. Then, through the CLI with its
// default patience, an issuer that stays down keeps the live keys of an optional source on
// disk and fails the publish of a required one, writing nothing.
func TestIssuerProxyFaults(t *testing.T) {
	base, _, ca := startIssuerNginx(t)
	const path = "/.well-known/jwks.json"
	answer := func(code int, header ...string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", code, http.StatusText(code))
		}
	}
	// firstN fails the first n requests with f, then passes through to nginx.
	firstN := func(n int64, f func(w http.ResponseWriter)) func(int64, http.ResponseWriter, *http.Request) bool {
		return func(i int64, w http.ResponseWriter, r *http.Request) bool {
			if i <= n {
				f(w)
				return true
			}
			return false
		}
	}
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	fetcher := &issuer.Fetcher{Timeout: 300 * time.Millisecond, Retries: 2, Backoff: 10 * time.Millisecond}

	for _, tc := range []struct {
		name     string
		fault    func(n int64, w http.ResponseWriter, r *http.Request) bool
		requests int64
		minWait  time.Duration // the fetch must have waited at least this long (Retry-After)
		is       error
		msg      string // after the proxied URL
		down     bool
	}{
		{name: "429 with Retry-After then ok", fault: firstN(1, answer(http.StatusTooManyRequests, "Retry-After", "1")),
			requests: 2, minWait: time.Second},
		{name: "503 twice then ok", fault: firstN(2, answer(http.StatusServiceUnavailable)), requests: 3},
		{name: "503 throughout", fault: firstN(99, answer(http.StatusServiceUnavailable)), requests: 3,
			is: issuer.ErrUnreachable, msg: ": issuer unreachable: HTTP 503 Service Unavailable (after 3 attempts)", down: true},
		{name: "hang then ok", fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				hang(w, r)
				return true
			}
			return false
		}, requests: 2},
		{name: "hang throughout", fault: func(n int64, w http.ResponseWriter, r *http.Request) bool {
			hang(w, r)
			return true
		}, requests: 3, is: issuer.ErrUnreachable, msg: ": issuer unreachable: no answer within 300ms (after 3 attempts)", down: true},
		{name: "reset then ok", fault: firstN(1, resetConn), requests: 2},
		{name: "reset throughout", fault: firstN(99, resetConn), requests: 3,
			is: issuer.ErrUnreachable, msg: ": issuer unreachable: ", down: true},
		{name: "HTML error page with 200", fault: firstN(99, answer(http.StatusOK, "Content-Type", "text/html; charset=utf-8")),
			requests: 1, is: issuer.ErrHTML, msg: ": an HTML page, not a JWK Set (fix: check the URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, n := issuerProxy(t, base, ca, tc.fault)
			for _, optional := range []bool{false, true} {
				n.Store(0)
				src, err := sources.New(sources.Spec{Spec: proxy + path, Optional: optional}, sources.Options{Issuer: fetcher})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				keys, err := src.Keys(context.Background())
				took := time.Since(start)
				if got := n.Load(); got != tc.requests {
					t.Errorf("optional=%v: %d requests at the proxy, want %d", optional, got, tc.requests)
				}
				if took < tc.minWait {
					t.Errorf("optional=%v: retried after %s, before the Retry-After of %s", optional, took, tc.minWait)
				}
				if tc.is == nil {
					got := map[string]string{}
					for _, k := range keys {
						got[k.KID] = k.Alg
					}
					if err != nil || fmt.Sprint(got) != "map[issuer-ec-1:ES256 issuer-rsa-1:PS256]" {
						t.Fatalf("optional=%v: keys %v, error %v", optional, got, err)
					}
					continue
				}
				// Optional or not, the source reports the failure; keeping the live keys is
				// publication's decision (below, through the CLI).
				if !errors.Is(err, tc.is) || !strings.HasPrefix(err.Error(), proxy+path+tc.msg) {
					t.Fatalf("optional=%v: error %v, want %v starting %q", optional, err, tc.is, proxy+path+tc.msg)
				}
				if got := sources.IsUnavailable(err); got != tc.down {
					t.Errorf("optional=%v: IsUnavailable = %v, want %v", optional, got, tc.down)
				}
			}
		})
	}

	t.Run("cli", func(t *testing.T) {
		// The CLI's Fetcher has the defaults (1+3 attempts, 250ms doubling backoff, 10s per
		// attempt): only faults that end quickly are exercised here.
		var fault atomic.Pointer[func(n int64, w http.ResponseWriter, r *http.Request) bool]
		proxy, n := issuerProxy(t, base, ca, func(i int64, w http.ResponseWriter, r *http.Request) bool {
			if f := fault.Load(); f != nil {
				return (*f)(i, w, r)
			}
			return false
		})
		setFault := func(f func(int64, http.ResponseWriter, *http.Request) bool) {
			n.Store(0)
			fault.Store(&f)
		}
		dir, out := t.TempDir(), t.TempDir()
		target := filepath.Join(out, ".well-known", "jwks.json")
		config := func(optional bool) {
			cfg := fmt.Sprintf("sets:\n  - name: mirror\n    sources:\n      - {spec: %q, optional: %v}\n    targets:\n      - file://%s\n",
				proxy+path, optional, target)
			if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// onDisk is the published document and every file under out, with mtimes: a run that
		// writes nothing leaves it as it was.
		onDisk := func() (doc, tree string) {
			b, _ := os.ReadFile(target)
			filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					if fi, err := d.Info(); err == nil {
						tree += fmt.Sprintf("%s %d %s\n", p, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
					}
				}
				return nil
			})
			return string(b), tree
		}
		bin := buildJwkspub(t)
		env := []string{"HOME=" + dir}

		// The issuer recovers within the CLI's retries: published, after 3 requests.
		config(true)
		setFault(firstN(2, answer(http.StatusServiceUnavailable)))
		if _, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 {
			t.Fatalf("publish after two 503s: exit %d\n%s", code, errOut)
		}
		if got := n.Load(); got != 3 {
			t.Errorf("%d requests at the proxy, want 3", got)
		}
		first, tree := onDisk()
		for _, want := range []string{`"kid":"issuer-ec-1"`, `"kid":"issuer-rsa-1"`, `"alg":"PS256"`} {
			if !strings.Contains(first, want) {
				t.Fatalf("first publication lacks %s:\n%s", want, first)
			}
		}

		// Down for good (503 throughout), optional: the live keys stay on disk, with a warning.
		setFault(firstN(1<<40, answer(http.StatusServiceUnavailable)))
		stdout, errOut, code := runJwkspub(t, bin, dir, env, "publish")
		if code != 0 {
			t.Fatalf("publish with the optional issuer down: exit %d\n%s%s", code, stdout, errOut)
		}
		if got := n.Load(); got != 4 {
			t.Errorf("%d requests at the proxy, want 4 (1 + DefaultRetries)", got)
		}
		if !strings.Contains(errOut, "optional source unavailable") || !strings.Contains(errOut, "HTTP 503") {
			t.Errorf("no warning naming the outage:\n%s", errOut)
		}
		if doc, _ := onDisk(); doc != first {
			t.Errorf("the live keys changed:\nbefore %s\nafter  %s", first, doc)
		}

		// Resets throughout, optional: the same.
		setFault(firstN(1<<40, resetConn))
		if stdout, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 || !strings.Contains(errOut, "optional source unavailable") {
			t.Fatalf("publish with the optional issuer resetting: exit %d\n%s%s", code, stdout, errOut)
		}
		if doc, _ := onDisk(); doc != first {
			t.Errorf("the live keys changed after resets:\nbefore %s\nafter  %s", first, doc)
		}

		// Required: the publish fails naming the URL, and nothing under out is touched.
		_, tree = onDisk()
		config(false)
		setFault(firstN(1<<40, answer(http.StatusServiceUnavailable)))
		_, errOut, code = runJwkspub(t, bin, dir, env, "publish")
		if want := proxy + path + ": issuer unreachable: HTTP 503 Service Unavailable (after 4 attempts)"; code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("required issuer down: exit %d, want 1 saying %q\n%s", code, want, errOut)
		}
		if doc, after := onDisk(); doc != first || after != tree {
			t.Errorf("a failed run wrote under %s:\nbefore %safter  %s", out, tree, after)
		}
	})
}
