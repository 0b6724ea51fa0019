//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/jwkspub/jwkspub/internal/ocitest"
	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/rotation"
)

// ociRegistry is the loopback registry (Debian's docker-registry) that .ci/services.sh starts.
func ociRegistry(t *testing.T) string {
	t.Helper()
	reg := os.Getenv("JWKSPUB_IT_REGISTRY")
	if reg == "" {
		t.Fatal("JWKSPUB_IT_REGISTRY is not set: run the suite with make integration (.ci/services.sh start runs the registry)")
	}
	return reg
}

var repoSeq atomic.Int64

// ociRepo is a repository of its own for one test, so runs and tests never see each other's
// tags.
func ociRepo(t *testing.T, reg string) string {
	t.Helper()
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	return fmt.Sprintf("%s/jwkspub-it/%s-%s-%d", reg, n, time.Now().UTC().Format("20060102t150405"), repoSeq.Add(1))
}

// pushBase pushes a small base image made here (nothing can be pulled from outside) and
// returns its reference.
func pushBase(t *testing.T, reg, marker string) string {
	t.Helper()
	img, err := ocitest.Base(marker, false)
	if err != nil {
		t.Fatal(err)
	}
	ref := ociRepo(t, reg) + "-base:1"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing the base image to %s: %v", ref, err)
	}
	return ref
}

// tagDigest is the digest a tag names now, or "" when there is none.
func tagDigest(t *testing.T, ref string) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		if strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "NAME_UNKNOWN") || strings.Contains(err.Error(), "404") {
			return ""
		}
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// faultProxy is a reverse proxy in front of the real registry that answers some requests
// itself, to inject the failures a registry can give.
type faultProxy struct {
	*httptest.Server
	fail  atomic.Pointer[func(*http.Request) int] // status to answer with, 0 to pass on
	count atomic.Int64                            // requests answered with a fault
}

func newFaultProxy(t *testing.T, reg string) *faultProxy {
	t.Helper()
	up, err := url.Parse("http://" + reg)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(up)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := p.fail.Load(); f != nil {
			if code := (*f)(r); code != 0 {
				p.count.Add(1)
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Basic realm="jwkspub-it"`)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"errors":[{"code":"%s","message":"injected by the test"}]}`, map[int]string{401: "UNAUTHORIZED", 500: "UNKNOWN"}[code])
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// host is the proxy's registry name (127.0.0.1:PORT: spoken to over plain HTTP).
func (p *faultProxy) host() string { return strings.TrimPrefix(p.URL, "http://") }

func (p *faultProxy) failWith(f func(*http.Request) int) { p.fail.Store(&f) }

// The image build, push, conditional tag update and the registry's refusals are tested
// against an in-process registry with fault injection in publish/target/oci, and through the
// target contract against this registry in oci_target_test.go; here the command end to end.

// jwkspubBinary builds the command into the test's temporary directory (removed with it), for
// the tests that run it as users do. The build cache makes every build after the first a link.
func jwkspubBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/jwkspub/jwkspub/cmd/jwkspub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliRun runs the jwkspub binary bin in dir and returns stdout, stderr and the exit code.
func cliRun(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	// An empty Docker config: the keychain finds no credentials and stays anonymous.
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "docker"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

type publishOut struct {
	Results []struct {
		Outcome string `json:"outcome"`
		Digest  string `json:"digest"`
		Error   string `json:"error"`
	} `json:"results"`
}

// publishJSON runs publish --format json and returns its one result.
func publishJSON(t *testing.T, bin, dir string, wantCode int) (outcome, digest, stderr string) {
	t.Helper()
	stdout, stderr, code := cliRun(t, bin, dir, "publish", "--format", "json")
	if code != wantCode {
		t.Fatalf("publish exited %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, stdout, stderr)
	}
	if wantCode == 3 {
		return "", "", stderr
	}
	var out publishOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || len(out.Results) != 1 {
		t.Fatalf("publish --format json printed %q (%v)", stdout, err)
	}
	return out.Results[0].Outcome, out.Results[0].Digest, stderr
}

// layerWithTimes reads the top layer of the image at ref: each regular file's bytes and time.
func layerWithTimes(t *testing.T, ref string) (map[string][]byte, map[string]time.Time) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, times := map[string][]byte{}, map[string]time.Time{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return data, times
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			data[h.Name], times[h.Name] = b, h.ModTime
		}
	}
}

// writeConfig writes the set's configuration with the given key files as its sources.
func writeConfig(t *testing.T, dir, target string, keys ...string) {
	t.Helper()
	var srcs []string
	for _, k := range keys {
		srcs = append(srcs, "file:"+filepath.Join(keysDir(t), k))
	}
	cfg := fmt.Sprintf(`sets:
  - name: prod
    issuer: https://auth.example.com
    sources: [%s]
    output: {cache_control: "public, max-age=300"}
    rotation: {max_token_lifetime: 1h, cdn_ttl: 0s, max_removed: 1}
    targets: [%q]
`, strings.Join(srcs, ", "), target)
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keysDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../../examples/keys")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOCIPublish is the oci:// target end to end, through the command, against the real
// registry behind a proxy that counts (and, at the end, refuses) writes: a first publication,
// its layer compared byte for byte with `render --dir`; an unchanged publication that pushes
// nothing; a rotation that pushes a new digest; a guard refusal and registry refusals that
// push nothing and leave the tag where it was.
func TestOCIPublish(t *testing.T) {
	bin := jwkspubBinary(t)
	reg := ociRegistry(t)
	baseRef := pushBase(t, reg, "publish")
	proxy := newFaultProxy(t, reg)
	var writes atomic.Int64
	proxy.failWith(func(r *http.Request) int {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writes.Add(1)
		}
		return 0
	})
	repo := strings.TrimPrefix(ociRepo(t, reg), reg)
	direct := reg + repo + ":prod"
	target := "oci://" + proxy.host() + repo + ":prod?base=" + baseRef
	dir := t.TempDir()
	writeConfig(t, dir, target, "p256.pub.pem")

	// First publication.
	outcome, d1, _ := publishJSON(t, bin, dir, 0)
	if outcome != "published" || !strings.HasPrefix(d1, "sha256:") {
		t.Fatalf("first publish: %s %s", outcome, d1)
	}
	if got := tagDigest(t, direct); got != d1 {
		t.Fatalf("the tag names %s, publish printed %s", got, d1)
	}
	if writes.Load() == 0 {
		t.Fatal("the proxy counted no writes for a first publication: the target does not go through it")
	}
	stdout, _, code := cliRun(t, bin, dir, "publish")
	if code != 0 || !strings.Contains(stdout, "unchanged, digest "+d1) {
		t.Fatalf("text output %q (exit %d) does not name the digest", stdout, code)
	}

	// status reads the state from the image.
	stdout, stderr, code := cliRun(t, bin, dir, "status")
	if code != 0 || !strings.Contains(stdout, "first published") || !strings.Contains(stdout, "file:"+filepath.Join(keysDir(t), "p256.pub.pem")) {
		t.Fatalf("status: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// The layer holds exactly what render writes (and the state), byte for byte, with the
	// same content-derived times.
	if _, stderr, code := cliRun(t, bin, dir, "render", "--dir", "ctx"); code != 0 {
		t.Fatalf("render: %d %s", code, stderr)
	}
	data, times := layerWithTimes(t, direct)
	rendered := 0
	err := filepath.WalkDir(filepath.Join(dir, "ctx"), func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(dir, "ctx"), p)
		if rel == "Dockerfile" || rel == publish.ContextState {
			return nil // render's own state stays outside the image; the image has its own
		}
		rendered++
		want, _ := os.ReadFile(p)
		fi, _ := de.Info()
		name := "srv/jwkspub/" + filepath.ToSlash(rel)
		if got, ok := data[name]; !ok || !bytes.Equal(got, want) {
			t.Errorf("%s differs from render's %s (in the image: %v)", name, rel, ok)
		}
		if !times[name].Equal(fi.ModTime()) {
			t.Errorf("%s: time %s in the image, %s from render", name, times[name], fi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	state, ok := data["srv/jwkspub/html/.well-known/jwks.json.state.json"]
	if !ok || len(data) != rendered+1 {
		t.Fatalf("the layer has %d files; want render's %d and the state", len(data), rendered)
	}
	if _, err := rotation.ParseState(state); err != nil {
		t.Fatalf("state in the image: %v", err)
	}

	// Another set's configuration pointed at this tag is refused before anything is pushed.
	other := t.TempDir()
	writeConfig(t, other, target, "p256.pub.pem")
	cfg, _ := os.ReadFile(filepath.Join(other, "jwkspub.yaml"))
	_ = os.WriteFile(filepath.Join(other, "jwkspub.yaml"), bytes.Replace(cfg, []byte("name: prod"), []byte("name: staging"), 1), 0o644)
	if _, stderr, code := cliRun(t, bin, other, "publish"); code != 1 || !strings.Contains(stderr, `serves set "prod"`) {
		t.Fatalf("publishing set staging over set prod's tag: exit %d\n%s", code, stderr)
	}

	// Unchanged: nothing is pushed and the digest stays.
	before := writes.Load()
	if outcome, d, _ := publishJSON(t, bin, dir, 0); outcome != "unchanged" || d != d1 {
		t.Fatalf("unchanged publish: %s %s, want unchanged %s", outcome, d, d1)
	}
	if n := writes.Load() - before; n != 0 {
		t.Fatalf("an unchanged publish sent %d write requests to the registry", n)
	}

	// A rotation (a new key beside the old one) pushes a new digest; diff shows it first and
	// writes nothing.
	writeConfig(t, dir, target, "p256.pub.pem", "ed25519.pub.pem")
	before = writes.Load()
	stdout, stderr, code = cliRun(t, bin, dir, "diff", "--detailed-exitcode")
	if code != 2 || !strings.Contains(stdout, "write html/.well-known/jwks.json") || writes.Load() != before {
		t.Fatalf("diff before a rotation: exit %d, %d writes\n%s\n%s", code, writes.Load()-before, stdout, stderr)
	}
	outcome, d2, _ := publishJSON(t, bin, dir, 0)
	if outcome != "published" || d2 == d1 || tagDigest(t, direct) != d2 {
		t.Fatalf("rotation: %s %s (first %s, tag %s)", outcome, d2, d1, tagDigest(t, direct))
	}

	// The guard refuses removing the old key an instant after its successor appeared: exit 3,
	// nothing pushed, the tag unchanged.
	writeConfig(t, dir, target, "ed25519.pub.pem")
	before = writes.Load()
	if _, _, stderr := publishJSON(t, bin, dir, 3); !strings.Contains(stderr, "removal") {
		t.Fatalf("guard refusal does not say why: %s", stderr)
	}
	if n := writes.Load() - before; n != 0 || tagDigest(t, direct) != d2 {
		t.Fatalf("a refused publish sent %d writes; tag %s, want %s", n, tagDigest(t, direct), d2)
	}

	// The registry refuses the push: a clear error, exit 1, the tag where it was.
	writeConfig(t, dir, target, "p256.pub.pem", "ed25519.pub.pem", "rsa-3072.pub.pem")
	for _, tc := range []struct {
		name string
		code int
		want string
	}{
		{"500", http.StatusInternalServerError, "HTTP 500, the registry failed"},
		{"401", http.StatusUnauthorized, "HTTP 401, not authenticated (fix: docker login " + proxy.host()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.failWith(func(r *http.Request) int {
				if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					return tc.code
				}
				return 0
			})
			stdout, stderr, code := cliRun(t, bin, dir, "publish")
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
			}
			t.Logf("refused push:\n%s%s", stdout, stderr)
			for _, w := range []string{"STALE", tc.want, "the tag was left as it was"} {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output does not contain %q:\n%s\n%s", w, stdout, stderr)
				}
			}
			if got := tagDigest(t, direct); got != d2 {
				t.Fatalf("after a refused push the tag names %s, want %s", got, d2)
			}
		})
	}
}

// startAuthRegistry starts a registry of its own that requires a password (htpasswd, as a
// private registry would), on a free loopback port, and returns its address.
func startAuthRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin := os.Getenv("JWKSPUB_IT_REGISTRY_BIN")
	if bin == "" {
		t.Fatal("JWKSPUB_IT_REGISTRY_BIN is not set: run the suite with make integration (.ci/services.sh start installs docker-registry)")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
auth:
  htpasswd: {realm: jwkspub-it, path: %s}
`, filepath.Join(dir, "data"), addr, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	// Ready when /v2/ asks for credentials.
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry with auth not ready on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOCICredentials publishes to a registry that requires a password: without credentials it
// fails with a fix and pushes nothing; with them in the Docker config (as docker login writes
// them) it publishes, and the password appears in no output. The base comes from the other,
// anonymous registry, so layers are copied across registries.
func TestOCICredentials(t *testing.T) {
	bin := jwkspubBinary(t)
	reg := ociRegistry(t)
	const user, password = "jwkspub", "it-s3cret-pw"
	authReg := startAuthRegistry(t, user, password)
	baseRef := pushBase(t, reg, "credentials")
	dir := t.TempDir()
	target := "oci://" + authReg + "/keys/prod:v1?base=" + baseRef
	writeConfig(t, dir, target, "p256.pub.pem")

	start := time.Now()
	stdout, stderr, code := cliRun(t, bin, dir, "publish")
	t.Logf("refused in %s:\n%s%s", time.Since(start), stdout, stderr)
	if code != 1 || !strings.Contains(stdout+stderr, "HTTP 401, not authenticated (fix: docker login "+authReg) {
		t.Fatalf("without credentials: exit %d\n%s\n%s", code, stdout, stderr)
	}

	if err := os.MkdirAll(filepath.Join(dir, "docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	conf := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, authReg, auth)
	if err := os.WriteFile(filepath.Join(dir, "docker", "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = cliRun(t, bin, dir, "publish", "--log-level", "debug", "--format", "json")
	if code != 0 || !strings.Contains(stdout, `"outcome": "published"`) {
		t.Fatalf("with credentials: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, secret := range []string{password, auth} {
		if strings.Contains(stdout+stderr, secret) {
			t.Fatalf("the output contains the credentials:\n%s\n%s", stdout, stderr)
		}
	}
	// The tag is there, read with the same credentials.
	tag, err := name.NewTag(authReg + "/keys/prod:v1")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, desc.Digest.String()) {
		t.Fatalf("the tag names %s, publish printed:\n%s", desc.Digest, stdout)
	}
}

// TestOCIForeignImage refuses to publish over an image jwkspub did not build: its documents
// cannot be read, so the guard could not protect the keys verifiers hold.
func TestOCIForeignImage(t *testing.T) {
	bin := jwkspubBinary(t)
	reg := ociRegistry(t)
	baseRef := pushBase(t, reg, "foreign")
	ref := ociRepo(t, reg) + ":prod"
	// The tag holds some other image: here the base itself.
	img, err := ocitest.Base("someone else's", false)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	was := tagDigest(t, ref)
	dir := t.TempDir()
	writeConfig(t, dir, "oci://"+ref+"?base="+baseRef, "p256.pub.pem")
	stdout, stderr, code := cliRun(t, bin, dir, "publish")
	if code != 1 || !strings.Contains(stdout+stderr, "so jwkspub did not build it (fix: publish to another tag") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := tagDigest(t, ref); got != was {
		t.Fatalf("the tag moved from %s to %s", was, got)
	}
}
