//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish"
)

// The subject GitHub puts in a job's OIDC token for a job in the repository's `jwks`
// environment; the Vault role pins it.
const (
	rotateSubject = "repo:acme/keys:environment:jwks"
	rotateAud     = "jwkspub-vault"
)

// rotateRig is the rotation job's world: a real Vault with a Transit key and a JWT auth role
// bound to one repository's environment, GitHub's OIDC token endpoint emulated locally, a
// file:// target inside the document root of a real nginx, and the GitHub step files.
type rotateRig struct {
	bin, config, dir, url string
	env                   []string
	vault                 *vaultEnv
	transit               string
	subject               atomic.Value // the sub the emulated GitHub puts in tokens
	summary, output       string
}

// newRotateRig builds the rig with the target in kind of store: "file" (a file:// target inside the
// document root of a real nginx serving it as the release image does) or "s3" (a MinIO
// bucket, with a real nginx in front of it as a caching CDN that holds each document for
// cdnTTL, so verify --expect --wait has real propagation to wait for).
func newRotateRig(t *testing.T, kind string) *rotateRig {
	t.Helper()
	r := &rotateRig{vault: newVaultEnv(t), dir: t.TempDir()}
	r.subject.Store(rotateSubject)
	e := r.vault

	// Vault: the Transit key, a read-only policy on it, and a JWT role bound to the audience
	// and to the repository's environment.
	r.transit = e.mount(t, "transit", nil)
	e.write(t, r.transit+"/keys/jwt", map[string]any{"type": "ecdsa-p256"})
	pol := vaultName("jwks-read")
	if err := e.root.Sys().PutPolicy(pol, fmt.Sprintf(`path "%s/keys/jwt" { capabilities = ["read"] }`, r.transit)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.root.Sys().DeletePolicy(pol) })
	iss := newJWTIssuer(t)
	mount := e.enableAuth(t, "jwt")
	e.write(t, "auth/"+mount+"/config", map[string]any{
		"jwt_validation_pubkeys": []string{pemOf(t, &iss.key.PublicKey)},
		"bound_issuer":           "https://token.actions.githubusercontent.com",
	})
	e.write(t, "auth/"+mount+"/role/jwks-publisher", map[string]any{
		"role_type": "jwt", "user_claim": "sub", "bound_audiences": []string{rotateAud},
		"bound_claims": map[string]any{"sub": rotateSubject}, "token_policies": []string{pol}, "token_ttl": "5m",
	})

	// GitHub's OIDC token endpoint, emulated: bearer request token, ?audience=.
	requestToken := "ghs_" + vaultName("request")
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "bearer "+requestToken {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		sub := r.subject.Load().(string)
		repo := strings.TrimPrefix(strings.Split(sub, ":environment:")[0], "repo:")
		tok := iss.sign(t, req.URL.Query().Get("audience"), map[string]any{"sub": sub, "repository": repo, "environment": "jwks"})
		json.NewEncoder(w).Encode(map[string]string{"value": tok})
	}))
	t.Cleanup(gh.Close)

	cfgYAML := func(target string) string {
		return `sets:
  - name: prod
    sources: [vault-transit:` + r.transit + `/jwt]
    kid: template
    kid_template: "{{.Name}}-v{{.Version}}"
    output: {cache_control: "public, max-age=4", gzip: true}
    rotation: {max_token_lifetime: 6s, cdn_ttl: 0s, max_removed: 1}
    targets: ["` + target + `"]
`
	}
	var target string
	var storeEnv []string
	switch kind {
	case "file":
		// nginx serves the document root the file:// target writes into.
		cfg, err := publish.ParseConfig([]byte(cfgYAML("file:///tmp/placeholder/jwks.json")), "jwkspub.yaml")
		if err != nil {
			t.Fatal(err)
		}
		ng := startNginx(t, &cfg.Sets[0], edSet(t, 1))
		wk := filepath.Join(ng.Dir, "html", ".well-known")
		// Nothing is published yet: the render's placeholder document goes.
		for _, f := range []string{"jwks.json", "jwks.json.gz"} {
			if err := os.Remove(filepath.Join(wk, f)); err != nil {
				t.Fatal(err)
			}
		}
		r.url = ng.URL + "/.well-known/jwks.json"
		target = "file://" + filepath.Join(wk, "jwks.json")
	case "s3":
		end := need(t, "JWKSPUB_IT_S3_ENDPOINT")
		st := store{name: "s3", targetURL: func(n string) string { return s3URL(end, n) }, create: createS3}
		_, bucket := freshTarget(t, st)
		target = s3URL(end, bucket)
		r.url = startCachingProxy(t, end+"/"+bucket+"/"+jwksKey) + "/.well-known/jwks.json"
		// MinIO's well-known local credentials stand in for what the job's AWS role gives.
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} {
			storeEnv = append(storeEnv, k+"="+need(t, k))
		}
	default:
		t.Fatalf("store %q", kind)
	}
	r.config = filepath.Join(r.dir, "jwkspub.yaml")
	if err := os.WriteFile(r.config, []byte(cfgYAML(target)), 0o644); err != nil {
		t.Fatal(err)
	}

	r.bin = filepath.Join(r.dir, "jwkspub")
	build := exec.Command("go", "build", "-o", r.bin, "../../cmd/jwkspub")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r.summary, r.output = filepath.Join(r.dir, "summary.md"), filepath.Join(r.dir, "output.txt")
	runnerTemp := filepath.Join(r.dir, "runner")
	if err := os.Mkdir(runnerTemp, 0o700); err != nil {
		t.Fatal(err)
	}
	// Only what the job would have: no Vault token, no cloud credentials.
	r.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + r.dir,
		"JWKSPUB=" + r.bin, "VAULT_ADDR=" + e.addr,
		"GITHUB_STEP_SUMMARY=" + r.summary, "GITHUB_OUTPUT=" + r.output, "RUNNER_TEMP=" + runnerTemp,
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + requestToken,
		"ROTATE_CONFIG=" + r.config, "ROTATE_SETS=prod",
		"ROTATE_VAULT_ROLE=jwks-publisher", "ROTATE_VAULT_AUDIENCE=" + rotateAud, "ROTATE_VAULT_MOUNT=" + mount,
		"ROTATE_VERIFY_URLS=" + r.url, "ROTATE_VERIFY_WAIT=20s",
		"ROTATE_METRICS_FILE=" + filepath.Join(r.dir, "jwkspub.prom"),
		// Check the CDN every second (the default is 10s).
		"JWKSPUB_INTERVAL=1s",
	}
	r.env = append(r.env, storeEnv...)
	return r
}

// rotate runs .ci/rotate.sh in mode, with fresh step files, and returns its exit code, its
// combined output, the step summary and the step outputs.
func (r *rotateRig) rotate(t *testing.T, mode string) (int, string, string, map[string]string) {
	t.Helper()
	os.Remove(r.summary)
	os.Remove(r.output)
	cmd := exec.Command(filepath.Join(repoRoot, ".ci", "rotate.sh"))
	cmd.Env = append(r.env, "ROTATE_MODE="+mode)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	summary, _ := os.ReadFile(r.summary)
	outputs := map[string]string{}
	raw, _ := os.ReadFile(r.output)
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	t.Logf("rotate.sh %s: exit %d\n%s", mode, code, out)
	return code, string(out), string(summary), outputs
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// TestRotationJob runs the rotation job's script through a whole key rotation, as the
// scheduled workflow would over several days, with the durations shrunk to seconds: once with
// nginx serving a directory, once with MinIO as the store behind a caching nginx.
func TestRotationJob(t *testing.T) {
	for _, store := range []string{"file", "s3"} {
		t.Run(store, func(t *testing.T) { testRotationJob(t, store) })
	}
}

func testRotationJob(t *testing.T, store string) {
	r := newRotateRig(t, store)
	secrets := func(t *testing.T, out string) {
		t.Helper()
		// No token of any kind in anything the job prints.
		for _, bad := range []string{"eyJ", "hvs.", "ghs_"} {
			if strings.Contains(out, bad) {
				t.Errorf("output contains %q", bad)
			}
		}
	}

	// 1. Transit key v1, first publication: verify waits until nginx serves it; status says
	// nothing is safe to sign with yet (the safe delay, max-age=4, has not passed).
	code, out, summary, outputs := r.rotate(t, "publish")
	if code != 0 {
		t.Fatalf("first publish: exit %d", code)
	}
	secrets(t, out+summary)
	if outputs["changed"] != "true" || outputs["kids"] != `["jwt-v1"]` {
		t.Errorf("outputs %v", outputs)
	}
	var plan publish.PlanReport
	if err := json.Unmarshal([]byte(outputs["plan"]), &plan); err != nil || !plan.Changed || len(plan.Plans) != 1 {
		t.Errorf("plan output %q: %v", outputs["plan"], err)
	}
	mustContain(t, "summary", summary, "jwkspub diff", "jwt-v1", "serves what the sources give", "### jwkspub status", "sign with: none yet")

	// 2. Rotate the Transit key: diff shows exactly one key added, writes nothing.
	time.Sleep(5 * time.Second) // v1 becomes safe to sign with
	r.vault.write(t, r.transit+"/keys/jwt/rotate", nil)
	code, _, summary, outputs = r.rotate(t, "diff")
	if code != 0 || outputs["changed"] != "true" || outputs["kids"] != `["jwt-v1","jwt-v2"]` {
		t.Fatalf("diff after rotation: exit %d, outputs %v", code, outputs)
	}
	if err := json.Unmarshal([]byte(outputs["plan"]), &plan); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, k := range plan.Plans[0].Keys {
		actions = append(actions, k.KID+":"+k.Action)
	}
	if strings.Join(actions, " ") != "jwt-v1:keep jwt-v2:add" {
		t.Errorf("diff key actions %v, want v1 kept and v2 added", actions)
	}
	mustContain(t, "summary", summary, "sign with: jwt-v1")
	if got := servedKIDs(t, r); got != "jwt-v1" {
		t.Errorf("after diff nginx serves %s: diff must write nothing", got)
	}

	// 3. Publish v2: v1 is superseded, v2 not yet safe; v1 is still the key to sign with.
	code, out, summary, _ = r.rotate(t, "publish")
	if code != 0 {
		t.Fatalf("publish v2: exit %d", code)
	}
	if store == "s3" {
		// The CDN cached v1 when the test fetched it after the diff (the entry from the first
		// publish had expired during the sleep) and holds it for cdnTTL: verify saw v1, and
		// waited until the CDN served v2.
		mustContain(t, "output", out, "still drifted; checking again", "missing kids jwt-v2")
	}
	if store == "file" {
		// With the CDN's wait, v2 may already have reached its safe delay by the time status
		// runs (the safe delay is meant to cover such caches); without one it has not.
		mustContain(t, "summary", summary, "sign with: jwt-v1")
	}
	st := r.status(t)
	if st["jwt-v1"].Superseded == nil || st["jwt-v2"].Superseded != nil {
		t.Errorf("after publishing v2: v1 superseded %v, v2 superseded %v", st["jwt-v1"].Superseded, st["jwt-v2"].Superseded)
	}

	// 4. Vault stops giving v1 (min_decryption_version=2): the guard refuses its removal until
	// superseded + safe delay + max_token_lifetime (4s + 6s) have passed; nothing is written.
	r.vault.write(t, r.transit+"/keys/jwt/config", map[string]any{"min_decryption_version": 2})
	code, out, summary, outputs = r.rotate(t, "publish")
	if code != 3 {
		t.Fatalf("early removal: exit %d, want 3 (refused)", code)
	}
	mustContain(t, "output", out, "removal-too-early", "jwt-v1", "refused by the rotation guard")
	// The refused plan still reaches the summary and the outputs, for the reviewer.
	mustContain(t, "summary", summary, "jwt-v1")
	if outputs["kids"] != `["jwt-v2"]` {
		t.Errorf("refused plan outputs %v", outputs)
	}
	if got := servedKIDs(t, r); got != "jwt-v1,jwt-v2" {
		t.Errorf("after a refused publish nginx serves %s: nothing may be written", got)
	}

	// 5. After max_token_lifetime: publish removes v1, and verify --expect is clean.
	time.Sleep(11 * time.Second)
	code, _, summary, outputs = r.rotate(t, "publish")
	if code != 0 || outputs["kids"] != `["jwt-v2"]` {
		t.Fatalf("removal: exit %d, outputs %v", code, outputs)
	}
	mustContain(t, "summary", summary, "serves what the sources give")
	vcmd := exec.Command(r.bin, "verify", "--config", r.config, "--set", "prod", "--url", r.url, "--expect")
	vcmd.Env = append(r.env, "JWKSPUB_VAULT_AUTH=github-actions", "JWKSPUB_VAULT_ROLE=jwks-publisher",
		"JWKSPUB_VAULT_AUDIENCE="+rotateAud, "JWKSPUB_VAULT_AUTH_MOUNT="+envOf(r.env, "ROTATE_VAULT_MOUNT"))
	if out, err := vcmd.CombinedOutput(); err != nil {
		t.Errorf("verify --expect after the rotation: %v\n%s", err, out)
	}

	// 6. The same job from another repository: Vault refuses the token, nothing is written.
	r.subject.Store("repo:evil/fork:environment:jwks")
	code, out, _, _ = r.rotate(t, "publish")
	if code == 0 {
		t.Fatalf("a token for another repository was accepted:\n%s", out)
	}
	mustContain(t, "output", out, "auth/")
	secrets(t, out)
	// The metrics file tells monitoring the job is now failing.
	prom, err := os.ReadFile(filepath.Join(r.dir, "jwkspub.prom"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "metrics file", string(prom), `jwkspub_last_run_result{result="failed"} 1`)
}

func envOf(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// servedKIDs returns the kids nginx serves now, as a verifier fetching the URL sees them.
func servedKIDs(t *testing.T, r *rotateRig) string {
	t.Helper()
	resp, err := http.Get(r.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range doc.Keys {
		got = append(got, k.KID)
	}
	return strings.Join(got, ",")
}

// status runs `jwkspub status --format json` and returns the keys by kid.
func (r *rotateRig) status(t *testing.T) map[string]publish.KeyTimeline {
	t.Helper()
	cmd := exec.Command(r.bin, "status", "--config", r.config, "--format", "json")
	cmd.Env = r.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		Timelines []publish.Timeline `json:"timelines"`
	}
	if err := json.Unmarshal(out, &st); err != nil || len(st.Timelines) != 1 {
		t.Fatalf("status output %s: %v", out, err)
	}
	keys := map[string]publish.KeyTimeline{}
	for _, k := range st.Timelines[0].Keys {
		keys[k.KID] = k
	}
	return keys
}

// cdnTTL is how long the caching proxy keeps a document, whatever its Cache-Control says.
const cdnTTL = 3 * time.Second

// startCachingProxy runs a real nginx on a free loopback port as a CDN in front of origin:
// GET /.well-known/jwks.json is proxied to origin and cached for cdnTTL. It returns the base URL.
func startCachingProxy(t *testing.T, origin string) string {
	t.Helper()
	nginxBin := needEnv(t, "JWKSPUB_NGINX")
	run := sharedTempDir(t, "jwkspub-cdn-*")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := fmt.Sprintf(`worker_processes 1;
error_log stderr warn;
pid %[1]s/nginx.pid;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	proxy_cache_path %[1]s/cache keys_zone=jwks:1m;
	server {
		listen %[2]s;
		location = /.well-known/jwks.json {
			proxy_pass %[3]s;
			proxy_cache jwks;
			proxy_cache_valid 200 %[4]ds;
			proxy_ignore_headers Cache-Control Expires;
			add_header X-Cache $upstream_cache_status always;
		}
	}
}
`, run, listen, origin, int(cdnTTL.Seconds()))
	confPath := filepath.Join(run, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(t.TempDir(), "nginx.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-p", run+"/", "-c", confPath, "-e", "stderr", "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if os.Geteuid() == 0 {
		// As root nginx would switch its workers to nobody; run it all as nobody instead.
		if err := os.Chown(run, nobodyID, nobodyID); err != nil {
			t.Fatal(err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		stderr.Close()
	})
	base := "http://" + listen
	deadline := time.Now().Add(15 * time.Second)
	for {
		// Any answer (404 before the first publish) means nginx is up.
		resp, err := http.Get(base + "/.well-known/jwks.json")
		if err == nil {
			resp.Body.Close()
			return base
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(stderr.Name())
			t.Fatalf("nginx exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caching nginx not ready after 15s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
