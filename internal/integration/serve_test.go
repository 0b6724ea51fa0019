//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/internal/testkeys"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

// edSet assembles Ed25519 keys made from seeds, with thumbprint kids: such sets encode to
// the same length whatever the keys, which is what a same-size rotation needs.
func edSet(t *testing.T, seeds ...byte) *jwks.Set { return testkeys.Thumbprinted(t, seeds...) }

// client is a plain HTTP client that shows the wire as it is: no transparent gzip, no
// redirects followed.
var client = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantHeader checks one header's exact value ("" means absent).
func wantHeader(t *testing.T, what string, r response, name, want string) {
	t.Helper()
	if got := strings.Join(r.header.Values(name), ", "); got != want {
		t.Errorf("%s: %s = %q, want %q", what, name, got, want)
	}
}

func fileData(t *testing.T, files []publish.ContextFile, path string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no %s in the rendered context", path)
	return nil
}

// TestNginxServesContext checks every status and header the rendered configuration promises,
// against real nginx running as a non-root user with the documents read-only.
func TestNginxServesContext(t *testing.T) {
	set := &config.SetConfig{
		Name:   "it",
		Issuer: "http://127.0.0.1",
		Output: config.Output{CacheControl: "public, max-age=300, stale-if-error=86400", ContentType: "application/jwk-set+json"},
	}
	keys := edSet(t, 1, 2)
	srv := startNginx(t, set, keys)
	files := srv.render(t, set, keys) // the same files again: what the server has
	jwks := fileData(t, files, publish.ContextJWKS)
	disc := fileData(t, files, publish.ContextDiscovery)
	u := srv.URL + "/.well-known/jwks.json"

	common := func(what string, r response) {
		t.Helper()
		wantHeader(t, what, r, "Cache-Control", set.Output.CacheControl)
		wantHeader(t, what, r, "Access-Control-Allow-Origin", "*")
		wantHeader(t, what, r, "X-Content-Type-Options", "nosniff")
		wantHeader(t, what, r, "Vary", "Accept-Encoding")
		wantHeader(t, what, r, "Server", "nginx")
	}

	full := do(t, "GET", u)
	if full.status != 200 || !bytes.Equal(full.body, jwks) {
		t.Fatalf("GET: %d %q, want 200 with the rendered document", full.status, full.body)
	}
	common("GET", full)
	wantHeader(t, "GET", full, "Content-Type", "application/jwk-set+json")
	wantHeader(t, "GET", full, "Content-Encoding", "")
	wantHeader(t, "GET", full, "Content-Length", fmt.Sprint(len(jwks)))
	etag := full.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET: ETag %q is not a strong validator", etag)
	}

	gz := do(t, "GET", u, "Accept-Encoding", "gzip")
	if gz.status != 200 || !bytes.Equal(gunzip(t, gz.body), jwks) {
		t.Fatalf("GET gzip: %d, body does not decompress to the document", gz.status)
	}
	common("GET gzip", gz)
	wantHeader(t, "GET gzip", gz, "Content-Encoding", "gzip")
	wantHeader(t, "GET gzip", gz, "Content-Type", "application/jwk-set+json")
	if gz.header.Get("ETag") == etag {
		t.Error("GET gzip: the compressed representation has the identity ETag")
	}

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
		nm := do(t, "GET", u, "If-None-Match", inm)
		if nm.status != 304 || len(nm.body) != 0 {
			t.Errorf("If-None-Match %s: %d with %d body bytes, want 304 and none", inm, nm.status, len(nm.body))
		}
		common("304", nm)
		wantHeader(t, "304", nm, "ETag", etag)
	}
	if r := do(t, "GET", u, "If-None-Match", `"0-0"`); r.status != 200 {
		t.Errorf("If-None-Match with a stale ETag: %d, want 200", r.status)
	}
	if r := do(t, "GET", u, "Accept-Encoding", "gzip", "If-None-Match", gz.header.Get("ETag")); r.status != 304 {
		t.Errorf("gzip If-None-Match: %d, want 304", r.status)
	}

	head := do(t, "HEAD", u)
	if head.status != 200 || len(head.body) != 0 {
		t.Errorf("HEAD: %d with %d body bytes", head.status, len(head.body))
	}
	common("HEAD", head)
	wantHeader(t, "HEAD", head, "Content-Length", fmt.Sprint(len(jwks)))
	wantHeader(t, "HEAD", head, "ETag", etag)

	pre := do(t, "OPTIONS", u, "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "if-none-match")
	if pre.status != 204 {
		t.Errorf("preflight: %d, want 204", pre.status)
	}
	wantHeader(t, "preflight", pre, "Access-Control-Allow-Origin", "*")
	wantHeader(t, "preflight", pre, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	wantHeader(t, "preflight", pre, "Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since, Cache-Control")
	wantHeader(t, "preflight", pre, "Access-Control-Max-Age", "86400")

	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "PROPFIND"} {
		for _, p := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration"} {
			r := do(t, m, srv.URL+p)
			if r.status != 405 {
				t.Errorf("%s %s: %d, want 405", m, p, r.status)
			}
			wantHeader(t, m, r, "Allow", "GET, HEAD, OPTIONS")
		}
	}

	for _, p := range []string{"/", "/index.html", "/.well-known/", "/.well-known", "/.well-known/jwks.json.gz",
		"/.well-known/jwks.json/", "/nginx.conf", "/Dockerfile", "/html/.well-known/jwks.json",
		"/.well-known/jwks.json.state.json", "/healthz/x"} {
		r := do(t, "GET", srv.URL+p)
		if r.status != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
		if bytes.Contains(r.body, []byte("nginx/")) || bytes.Contains(r.body, []byte("Index of")) {
			t.Errorf("GET %s: body reveals the server or a listing: %q", p, r.body)
		}
	}

	// nginx refuses a path that climbs above the root outright.
	if r := do(t, "GET", srv.URL+"/%2e%2e/nginx.conf"); r.status != 400 {
		t.Errorf("GET /%%2e%%2e/nginx.conf: %d, want 400", r.status)
	}

	d := do(t, "GET", srv.URL+"/.well-known/openid-configuration")
	if d.status != 200 || !bytes.Equal(d.body, disc) {
		t.Fatalf("discovery: %d %q", d.status, d.body)
	}
	common("discovery", d)
	wantHeader(t, "discovery", d, "Content-Type", "application/json")

	h := do(t, "GET", srv.URL+"/healthz")
	if h.status != 200 || string(h.body) != "ok\n" {
		t.Errorf("healthz: %d %q", h.status, h.body)
	}
	if r := do(t, "POST", srv.URL+"/healthz"); r.status != 405 {
		t.Errorf("POST /healthz: %d, want 405", r.status)
	}

	// The access log is JSON, has the revalidations with no body bytes, and leaves out
	// health checks.
	is304 := func(l accessLine) bool { return l.Status == 304 }
	var revalidations int
	for _, l := range srv.waitAccessLog(t, func(ls []accessLine) bool { return count(ls, is304) >= 4 }) {
		if l.URI == "/healthz" {
			t.Error("health checks are in the access log")
		}
		if l.Status == 304 {
			revalidations++
			if l.BodyBytesSent != 0 {
				t.Errorf("a 304 sent %d body bytes", l.BodyBytesSent)
			}
		}
	}
	if revalidations < 4 {
		t.Errorf("%d 304s in the access log, want at least 4", revalidations)
	}
}

func count(lines []accessLine, f func(accessLine) bool) int {
	n := 0
	for _, l := range lines {
		if f(l) {
			n++
		}
	}
	return n
}

// TestNginxValidatorChangesOnSameSizeRotation: keys [A,B] → [B,C] give documents of equal
// length; the ETag must change anyway, and a verifier revalidating with the old ETag must get
// the new document, not a 304.
func TestNginxValidatorChangesOnSameSizeRotation(t *testing.T) {
	set := &config.SetConfig{Name: "it"}
	srv := startNginx(t, set, edSet(t, 1, 2))
	u := srv.URL + "/.well-known/jwks.json"
	before := do(t, "GET", u)
	beforeGz := do(t, "GET", u, "Accept-Encoding", "gzip")

	files := srv.render(t, set, edSet(t, 2, 3))
	next := fileData(t, files, publish.ContextJWKS)
	if len(next) != len(before.body) || bytes.Equal(next, before.body) {
		t.Fatalf("test setup: want a different document of the same length (%d and %d bytes)", len(before.body), len(next))
	}

	after := do(t, "GET", u)
	if !bytes.Equal(after.body, next) {
		t.Fatalf("nginx serves %q after the rotation, want the new document", after.body)
	}
	if after.header.Get("Content-Length") != before.header.Get("Content-Length") {
		t.Fatalf("Content-Length changed: the test needs a same-size rotation")
	}
	if after.header.Get("ETag") == before.header.Get("ETag") {
		t.Fatalf("ETag %s repeats after a same-size rotation", after.header.Get("ETag"))
	}
	reval := do(t, "GET", u, "If-None-Match", before.header.Get("ETag"))
	if reval.status != 200 || !bytes.Equal(reval.body, next) {
		t.Errorf("revalidating with the old ETag: %d, want 200 with the new keys", reval.status)
	}
	if r := do(t, "GET", u, "If-None-Match", after.header.Get("ETag")); r.status != 304 {
		t.Errorf("revalidating with the new ETag: %d, want 304", r.status)
	}
	regz := do(t, "GET", u, "Accept-Encoding", "gzip", "If-None-Match", beforeGz.header.Get("ETag"))
	if regz.status != 200 || !bytes.Equal(gunzip(t, regz.body), next) {
		t.Errorf("revalidating gzip with the old ETag: %d, want 200 with the new keys", regz.status)
	}

	// Rendering the same keys again keeps the validator: verifiers keep their 304s.
	srv.render(t, set, edSet(t, 2, 3))
	if r := do(t, "GET", u, "If-None-Match", after.header.Get("ETag")); r.status != 304 {
		t.Errorf("after re-rendering unchanged keys: %d, want 304", r.status)
	}
}
