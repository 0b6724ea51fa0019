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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/oauth2/google"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/report"
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
		cfg, err := config.ParseConfig([]byte(cfgYAML("file:///tmp/placeholder/jwks.json")), "jwkspub.yaml")
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
		"ROTATE_VAULT_ROLE=jwks-publisher", "ROTATE_VAULT_AUDIENCE=" + rotateAud, "ROTATE_VAULT_AUTH_MOUNT=" + mount,
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
	if outputs["changed"] != "true" || outputs["refused"] != "false" || outputs["kids"] != `["jwt-v1"]` {
		t.Errorf("outputs %v", outputs)
	}
	// Nothing is safe to sign with yet: the one timeline says so.
	r.checkSignWith(t, outputs, "")
	var plan report.PlanReport
	if err := json.Unmarshal([]byte(outputs["plan"]), &plan); err != nil || !plan.Changed || len(plan.Plans) != 1 {
		t.Errorf("plan output %q: %v", outputs["plan"], err)
	}
	mustContain(t, "summary", summary, "jwkspub diff", "jwt-v1", "serves what the sources give", "### jwkspub status", "sign with: none yet")

	// 2. Rotate the Transit key: diff shows exactly one key added, writes nothing.
	time.Sleep(5 * time.Second) // v1 becomes safe to sign with
	r.vault.write(t, r.transit+"/keys/jwt/rotate", nil)
	code, _, summary, outputs = r.rotate(t, "diff")
	if code != 0 || outputs["changed"] != "true" || outputs["refused"] != "false" || outputs["kids"] != `["jwt-v1","jwt-v2"]` {
		t.Fatalf("diff after rotation: exit %d, outputs %v", code, outputs)
	}
	r.checkSignWith(t, outputs, "jwt-v1")
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
	// Beside the table, the change as a before/after Mermaid chart (TestBrowserMermaid renders
	// the same writer's output): v2 appears only after.
	mustContain(t, "summary", summary, "**Rotation timeline before this change**\n\n```mermaid\ngantt\n",
		"**Rotation timeline after this change**\n\n```mermaid\ngantt\n", "    jwt-v1 sign with:active, t0k0, ")
	if after := summary[strings.Index(summary, "**Rotation timeline after this change**"):]; !strings.Contains(after, "    jwt-v2 safe from ") {
		t.Errorf("the summary's after chart has no task for jwt-v2:\n%s", after)
	}
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
	// The refused plan still reaches the summary and the outputs, for the reviewer: the plan,
	// every reason the guard gave (rule, kid, fix), and status, which key to sign with now.
	mustContain(t, "summary", summary, "### jwkspub diff", "jwt-v1",
		"### jwkspub: refused by the rotation guard, nothing written", "removal-too-early",
		"### jwkspub status", "sign with: jwt-v")
	if i, j := strings.Index(summary, "refused by the rotation guard"), strings.Index(summary, "### jwkspub status"); i > j {
		t.Errorf("the refusal comes after status in the summary:\n%s", summary)
	}
	// Written nothing, refused, and not "changed": a refused plan changes nothing.
	if outputs["kids"] != `["jwt-v2"]` || outputs["refused"] != "true" || outputs["changed"] != "false" {
		t.Errorf("refused plan outputs %v", outputs)
	}
	// v2 was published moments ago: which key is safe depends on how long verify waited,
	// so either may be named, but always with its own Transit version.
	r.checkSignWith(t, outputs, "jwt-v1", "jwt-v2")
	// The violations as JSON (schema_version 1): the summary lists each with its rule, kid
	// and fix. Needs the branch with the JSON verdict; before it, the summary quotes stderr.
	var verdict struct {
		Refused    bool `json:"refused"`
		Violations []struct {
			KID, Rule, Fix string
		} `json:"violations"`
	}
	if err := json.Unmarshal([]byte(outputs["plan"]), &verdict); err != nil {
		t.Fatal(err)
	}
	if !verdict.Refused || len(verdict.Violations) == 0 {
		t.Errorf("plan output: refused %v, violations %v; want the guard's verdict in the JSON", verdict.Refused, verdict.Violations)
	}
	for _, v := range verdict.Violations {
		mustContain(t, "summary", summary, "- **"+v.Rule+"** `"+v.KID+"`", "fix: "+v.Fix)
	}
	if got := servedKIDs(t, r); got != "jwt-v1,jwt-v2" {
		t.Errorf("after a refused publish nginx serves %s: nothing may be written", got)
	}

	// 5. After max_token_lifetime: publish removes v1, and verify --expect is clean.
	time.Sleep(11 * time.Second)
	code, _, summary, outputs = r.rotate(t, "publish")
	if code != 0 || outputs["kids"] != `["jwt-v2"]` || outputs["changed"] != "true" || outputs["refused"] != "false" {
		t.Fatalf("removal: exit %d, outputs %v", code, outputs)
	}
	r.checkSignWith(t, outputs, "jwt-v2")
	// Run again: nothing to publish, so nothing written.
	code, out, _, outputs = r.rotate(t, "publish")
	if code != 0 || outputs["changed"] != "false" || outputs["refused"] != "false" {
		t.Errorf("publish with nothing to change: exit %d, outputs %v", code, outputs)
	}
	mustContain(t, "output", out, "nothing to publish")
	mustContain(t, "summary", summary, "serves what the sources give")
	vcmd := exec.Command(r.bin, "verify", "--config", r.config, "--set", "prod", "--url", r.url, "--expect")
	vcmd.Env = append(r.env, "JWKSPUB_VAULT_AUTH=github-actions", "JWKSPUB_VAULT_ROLE=jwks-publisher",
		"JWKSPUB_VAULT_AUDIENCE="+rotateAud, "JWKSPUB_VAULT_AUTH_MOUNT="+envOf(r.env, "ROTATE_VAULT_AUTH_MOUNT"))
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

// checkSignWith checks the sign-with output: one entry, for set prod at its target, naming one
// of kids (none: no key safe yet) with the source and the Transit version that kid was made
// from (kid jwt-vN is version N). The version needs status to report it (sign_with as an
// object, schema_version 1), or the key's own version in the state.
func (r *rotateRig) checkSignWith(t *testing.T, outputs map[string]string, kids ...string) {
	t.Helper()
	var sw []struct {
		Set     string  `json:"set"`
		Target  string  `json:"target"`
		KID     *string `json:"kid"`
		Source  *string `json:"source"`
		Version *int    `json:"version"`
	}
	if err := json.Unmarshal([]byte(outputs["sign-with"]), &sw); err != nil || len(sw) != 1 {
		t.Errorf("sign-with output %q: %v, want one entry", outputs["sign-with"], err)
		return
	}
	e := sw[0]
	if e.Set != "prod" || e.Target == "" {
		t.Errorf("sign-with %q: set %q target %q", outputs["sign-with"], e.Set, e.Target)
	}
	if len(kids) == 1 && kids[0] == "" {
		if e.KID != nil {
			t.Errorf("sign-with %q: want no key (none is safe yet)", outputs["sign-with"])
		}
		return
	}
	if e.KID == nil || !slices.Contains(kids, *e.KID) {
		t.Errorf("sign-with %q: want one of %v", outputs["sign-with"], kids)
		return
	}
	if want := "vault-transit:" + r.transit + "/jwt"; e.Source == nil || *e.Source != want {
		t.Errorf("sign-with %q: want source %s", outputs["sign-with"], want)
	}
	if want := "jwt-v"; e.Version == nil || *e.KID != fmt.Sprintf("%s%d", want, *e.Version) {
		t.Errorf("sign-with %q: want the source version of %s", outputs["sign-with"], *e.KID)
	}
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
func (r *rotateRig) status(t *testing.T) map[string]report.StatusKey {
	t.Helper()
	cmd := exec.Command(r.bin, "status", "--config", r.config, "--format", "json")
	cmd.Env = r.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st report.StatusReport
	if err := json.Unmarshal(out, &st); err != nil || len(st.Timelines) != 1 {
		t.Fatalf("status output %s: %v", out, err)
	}
	keys := map[string]report.StatusKey{}
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
	server := fmt.Sprintf(`	proxy_cache_path %[1]s/cache keys_zone=jwks:1m;
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
`, run, listen, origin, int(cdnTTL.Seconds()))
	base := "http://" + listen
	runNginxConf(t, nginxBin, run, server, func() error {
		// Any answer (404 before the first publish) means nginx is up.
		resp, err := http.Get(base + "/.well-known/jwks.json")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return base
}

// TestRotateCloudLogin: the script's cloud logins. jwkspub is wrapped so the test sees what the
// real binary would get: the environment the AWS, Google and Azure SDKs read, and copies of the
// token and credential files (removed when the script ends). Each is handed to the SDK that
// will read it, which must accept it.
func TestRotateCloudLogin(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	runnerTemp := filepath.Join(dir, "runner")
	for _, d := range []string{rec, runnerTemp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/jwkspub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wrapper := filepath.Join(dir, "jwkspub-recorded")
	os.WriteFile(wrapper, []byte(`#!/bin/sh
env | grep -E '^(AWS|GOOGLE|AZURE)_' | sort > "`+rec+`/env"
for v in AWS_WEB_IDENTITY_TOKEN_FILE GOOGLE_APPLICATION_CREDENTIALS AZURE_FEDERATED_TOKEN_FILE; do
	eval f=\$$v
	if [ -n "$f" ]; then stat -c %a "$f" > "`+rec+`/$v.mode"; cp "$f" "`+rec+`/$v"; fi
done
exec `+bin+` "$@"
`), 0o755)

	iss := newJWTIssuer(t)
	var auds []string
	var mu sync.Mutex
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "bearer request-token" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		aud := req.URL.Query().Get("audience")
		mu.Lock()
		auds = append(auds, aud)
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"value": iss.sign(t, aud, map[string]any{"sub": rotateSubject})})
	}))
	defer gh.Close()

	keys, _ := filepath.Abs(filepath.Join(repoRoot, "examples/keys"))
	cfg := filepath.Join(dir, "jwkspub.yaml")
	os.WriteFile(cfg, []byte("sets:\n  - name: prod\n    sources: [file:"+keys+"/*.pub.pem]\n    targets: [file://"+dir+"/out/jwks.json]\n"), 0o644)
	const provider = "projects/123456/locations/global/workloadIdentityPools/ci/providers/github"
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "JWKSPUB=" + wrapper, "RUNNER_TEMP=" + runnerTemp,
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary"), "GITHUB_OUTPUT=" + filepath.Join(dir, "output"),
		"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token",
		"ROTATE_MODE=diff", "ROTATE_CONFIG=" + cfg,
		"ROTATE_AWS_ROLE_ARN=arn:aws:iam::111122223333:role/jwks-publisher", "GITHUB_RUN_ID=42",
		"ROTATE_GCP_WORKLOAD_IDENTITY_PROVIDER=" + provider,
		"ROTATE_GCP_SERVICE_ACCOUNT=jwks@proj.iam.gserviceaccount.com",
		"ROTATE_AZURE_CLIENT_ID=00000000-0000-0000-0000-00000000000c",
		"ROTATE_AZURE_TENANT_ID=00000000-0000-0000-0000-00000000000t",
	}
	script := filepath.Join(repoRoot, ".ci", "rotate.sh")
	cmd := exec.Command(script)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rotate.sh: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "eyJ") {
		t.Errorf("the output shows a token:\n%s", out)
	}
	wantAuds := []string{"sts.amazonaws.com", "https://iam.googleapis.com/" + provider, "api://AzureADTokenExchange"}
	mu.Lock()
	gotAuds := strings.Join(auds, " ")
	mu.Unlock()
	if gotAuds != strings.Join(wantAuds, " ") {
		t.Errorf("tokens requested for %s, want %v", gotAuds, wantAuds)
	}
	got := map[string]string{}
	raw, _ := os.ReadFile(filepath.Join(rec, "env"))
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	for k, want := range map[string]string{
		"AWS_ROLE_ARN": "arn:aws:iam::111122223333:role/jwks-publisher", "AWS_ROLE_SESSION_NAME": "jwkspub-42",
		"AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000000c", "AZURE_TENANT_ID": "00000000-0000-0000-0000-00000000000t",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	for _, v := range []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_FEDERATED_TOKEN_FILE"} {
		if !strings.HasPrefix(got[v], runnerTemp+"/") {
			t.Errorf("%s = %q, want a file under RUNNER_TEMP", v, got[v])
		}
		if mode, _ := os.ReadFile(filepath.Join(rec, v+".mode")); strings.TrimSpace(string(mode)) != "600" {
			t.Errorf("%s has mode %s, want 600", v, mode)
		}
	}
	// The token files hold the job's token for each audience.
	for v, aud := range map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "sts.amazonaws.com", "AZURE_FEDERATED_TOKEN_FILE": "api://AzureADTokenExchange"} {
		tok, _ := os.ReadFile(filepath.Join(rec, v))
		parsed, err := jwt.Parse(tok, jwt.WithVerify(false))
		if err != nil || !slices.Contains(parsed.Audience(), aud) || parsed.Subject() != rotateSubject {
			t.Errorf("%s: %v (aud %v)", v, err, parsed)
		}
	}
	// Google's client library accepts the file as external_account credentials (the type is
	// pinned: the library must not take it for anything else).
	creds, _ := os.ReadFile(filepath.Join(rec, "GOOGLE_APPLICATION_CREDENTIALS"))
	var ext map[string]any
	if err := json.Unmarshal(creds, &ext); err != nil {
		t.Fatal(err)
	}
	if ext["type"] != "external_account" || ext["audience"] != "//iam.googleapis.com/"+provider ||
		!strings.Contains(fmt.Sprint(ext["service_account_impersonation_url"]), "jwks@proj.iam.gserviceaccount.com:generateAccessToken") {
		t.Errorf("GCP credentials %s", creds)
	}
	if _, err := google.CredentialsFromJSONWithType(t.Context(), creds, google.ExternalAccount, "https://www.googleapis.com/auth/devstorage.read_write"); err != nil {
		t.Errorf("golang.org/x/oauth2/google refuses the credential file: %v", err)
	}
	// Nothing is left behind in RUNNER_TEMP.
	if left, _ := os.ReadDir(runnerTemp); len(left) != 0 {
		t.Errorf("RUNNER_TEMP still holds %v", left)
	}

	t.Run("without id-token: write", func(t *testing.T) {
		cmd := exec.Command(script)
		for _, kv := range env {
			if !strings.HasPrefix(kv, "ACTIONS_ID_TOKEN_REQUEST_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "permissions: id-token: write") {
			t.Errorf("err %v, output:\n%s", err, out)
		}
	})
}
