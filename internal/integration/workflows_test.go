//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository root, from this package's directory.
const repoRoot = "../.."

// makeVar reads a variable's value from the Makefile, so tests run the same pinned tool
// versions as `make lint` and CI.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*=\s*(\S+)\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("Makefile has no %s", name)
	}
	return string(m[1])
}

// TestActionlint runs actionlint (from the Go module proxy, at the Makefile's version) over
// every workflow. action.yml is checked through the workflows that `uses: ./` it: actionlint
// validates a local action's metadata and the inputs a step passes to it.
func TestActionlint(t *testing.T) {
	cmd := exec.Command("go", "run", makeVar(t, "ACTIONLINT"), "-no-color")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

var shaPin = regexp.MustCompile(`^[^@\s]+@[0-9a-f]{40}$`)

// TestWorkflowsPinnedAndLeastPrivilege: every action a workflow or action.yml uses is pinned by
// full commit SHA with a version comment (a tag can be moved to malicious code; a SHA cannot),
// every workflow sets top-level permissions, only the rotation job may mint OIDC tokens, and
// only the release job may write (the release).
func TestWorkflowsPinnedAndLeastPrivilege(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, ".github/workflows/*.yml"))
	files = append(files, filepath.Join(repoRoot, "action.yml"))
	if len(files) < 3 {
		t.Fatalf("found %v, want ci.yml, rotate.yml and action.yml at least", files)
	}
	usesLine := regexp.MustCompile(`(?m)^\s*(?:-\s*)?uses:\s*(\S+)(.*)$`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		for _, m := range usesLine.FindAllStringSubmatch(string(data), -1) {
			ref, comment := m[1], m[2]
			if strings.HasPrefix(ref, "./") {
				continue
			}
			if !shaPin.MatchString(ref) {
				t.Errorf("%s: uses %s: pin it by full commit SHA", name, ref)
			}
			if !regexp.MustCompile(`#\s*v\d`).MatchString(comment) {
				t.Errorf("%s: uses %s: add the release as a comment (# vX.Y.Z)", name, ref)
			}
		}
		if name == "action.yml" {
			continue
		}
		var wf struct {
			Permissions map[string]string         `yaml:"permissions"`
			Concurrency any                       `yaml:"concurrency"`
			Jobs        map[string]map[string]any `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if wf.Permissions == nil {
			t.Errorf("%s: no top-level permissions: the default token may write", name)
		}
		for k, v := range wf.Permissions {
			if v != "read" && v != "none" && !(name == "rotate.yml" && k == "id-token" && v == "write") {
				t.Errorf("%s: permissions %s: %s; only rotate.yml may have id-token: write", name, k, v)
			}
		}
		if name == "rotate.yml" {
			if wf.Permissions["id-token"] != "write" || wf.Permissions["contents"] != "read" {
				t.Errorf("rotate.yml: permissions %v, want id-token: write, contents: read", wf.Permissions)
			}
			if wf.Concurrency == nil {
				t.Error("rotate.yml: no concurrency group: two rotations could overlap")
			}
		}
		for job, j := range wf.Jobs {
			p, ok := j["permissions"]
			// The release job creates the release and uploads its assets: contents: write,
			// and only that, only there; the GoReleaser job after it adds the archives
			// (contents: write) and pushes the tool image (packages: write).
			if ok && name == "release.yml" && job == "release" && fmt.Sprint(p) == "map[contents:write]" {
				continue
			}
			if ok && name == "release.yml" && job == "archives-and-image" && fmt.Sprint(p) == "map[contents:write packages:write]" {
				continue
			}
			if ok && name != "rotate.yml" {
				t.Errorf("%s: job %s widens permissions to %v", name, job, p)
			}
		}
	}
}

// TestSystemdExample runs systemd-analyze verify on the example units, with the unit's binary
// path pointing at a freshly built jwkspub: directives, sandboxing options and the timer's
// calendar expression must all be ones systemd accepts.
func TestSystemdExample(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is needed: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/jwkspub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range []string{"jwkspub.service", "jwkspub.timer"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "examples/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.ReplaceAll(string(data), "/usr/local/bin/jwkspub", bin)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "jwkspub.service"), filepath.Join(dir, "jwkspub.timer"))
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdExampleRunsUnprivileged runs the unit's ExecStart as systemd would: as an
// unprivileged user (nobody stands in for the unit's system user), with the unit's
// environment, the credential in its own directory, and only the state directory writable
// (owned by the user, mode StateDirectoryMode, as systemd creates it), against a file target.
// The run publishes and leaves its metrics. The unit as first shipped, with its metrics in a
// directory nobody made for it, published and then failed every run: that layout must fail.
func TestSystemdExampleRunsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as another user")
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot, "examples/systemd/jwkspub.service"))
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	var env []string
	stateDir, stateMode := "", os.FileMode(0o755)
	for _, line := range strings.Split(string(unit), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch k {
		case "ExecStart":
			execStart = strings.Fields(v)
		case "Environment":
			env = append(env, v)
		case "StateDirectory":
			stateDir = "/var/lib/" + v
		case "StateDirectoryMode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				t.Fatalf("StateDirectoryMode=%s: %v", v, err)
			}
			stateMode = os.FileMode(m)
		}
	}
	if len(execStart) == 0 || stateDir == "" {
		t.Fatalf("ExecStart %v, StateDirectory %q", execStart, stateDir)
	}

	root := sharedTempDir(t, "jwkspub-systemd-*")
	bin := filepath.Join(root, "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/jwkspub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	os.Chmod(bin, 0o755)
	// /etc/jwkspub, root's and read-only to the user: the configuration with the example keys
	// and a file:// target the user may write.
	etc := filepath.Join(root, "etc")
	out := filepath.Join(root, "srv")
	creds := filepath.Join(root, "credentials")
	for _, d := range []string{etc, out, creds} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(out, nobodyID, nobodyID)
	keys, _ := filepath.Abs(filepath.Join(repoRoot, "examples/keys"))
	cfg := "sets:\n  - name: prod\n    sources: [file:" + keys + "/*.pub.pem]\n    targets: [file://" + out + "/jwks.json]\n"
	if err := os.WriteFile(filepath.Join(etc, "jwkspub.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(creds, "vault-secret-id"), []byte("not-used-by-file-sources"), 0o400)
	os.Chown(filepath.Join(creds, "vault-secret-id"), nobodyID, nobodyID)

	run := func(t *testing.T, state string) (int, string) {
		t.Helper()
		args := make([]string, 0, len(execStart))
		for _, a := range execStart[1:] {
			a = strings.ReplaceAll(a, "/etc/jwkspub", etc)
			args = append(args, strings.ReplaceAll(a, stateDir, state))
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = etc // WorkingDirectory=
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		for _, e := range env {
			cmd.Env = append(cmd.Env, strings.ReplaceAll(e, "%d", creds))
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exit %d\n%s", strings.Join(args, " "), code, b)
		return code, string(b)
	}

	t.Run("as shipped", func(t *testing.T) {
		state := filepath.Join(root, "state")
		if err := os.Mkdir(state, stateMode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(state, stateMode)
		os.Chown(state, nobodyID, nobodyID)
		if code, out := run(t, state); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		prom, err := os.ReadFile(filepath.Join(state, "jwkspub.prom"))
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "metrics file", string(prom), `jwkspub_last_run_result{result="changed"} 1`, `jwkspub_keys{set="prod"} 3`)
		if _, err := os.Stat(filepath.Join(out, "jwks.json")); err != nil {
			t.Errorf("nothing published: %v", err)
		}
	})
	t.Run("metrics where the user cannot write", func(t *testing.T) {
		// As first shipped: node_exporter's directory, missing, and root's were it there.
		if code, _ := run(t, filepath.Join(root, "node_exporter", "textfile_collector")); code == 0 {
			t.Error("exit 0 with a metrics directory that does not exist")
		}
	})
}

// compositeAction is action.yml as the runner reads it.
type compositeAction struct {
	Inputs map[string]struct {
		Default            string `yaml:"default"`
		DeprecationMessage string `yaml:"deprecationMessage"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			If    string            `yaml:"if"`
			Uses  string            `yaml:"uses"`
			Shell string            `yaml:"shell"`
			Env   map[string]string `yaml:"env"`
			Run   string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func readAction(t *testing.T) compositeAction {
	t.Helper()
	var action compositeAction
	data, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	if action.Runs.Using != "composite" {
		t.Fatalf("runs.using %q", action.Runs.Using)
	}
	return action
}

// actionRun is one run of the composite action: its outputs, each step's outputs, the log.
type actionRun struct {
	outputs map[string]string
	steps   map[string]map[string]string
	log     string
	err     error // the first failing step's
}

var (
	inputRef   = regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)
	stepRef    = regexp.MustCompile(`^\$\{\{ steps\.([a-z-]+)\.outputs\.([a-z-]+) \}\}$`)
	condition  = regexp.MustCompile(`^steps\.([a-z-]+)\.outputs\.([a-z-]+) (==|!=) '([^']*)'$`)
	githubRefs = map[string]string{"${{ github.action_ref }}": ""} // a local action (uses: ./)
)

// runAction runs action.yml's steps the way the runner does for a composite action: each
// step's if (the forms action.yml uses), its env with ${{ inputs.* }} filled from with (or the
// defaults), its run script under bash -e, GITHUB_ACTION_PATH at the repository, GITHUB_ENV
// carried from step to step; a `uses:` step (actions/cache) is a cache miss. env adds to
// every step's environment (RUNNER_TOOL_CACHE, PATH).
func runAction(t *testing.T, dir string, with map[string]string, env ...string) actionRun {
	t.Helper()
	action := readAction(t)
	inputs := map[string]string{}
	for k, v := range action.Inputs {
		inputs[k] = v.Default
	}
	for k, v := range with {
		if _, ok := action.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
		inputs[k] = v
	}
	actionPath, _ := filepath.Abs(repoRoot)
	runnerTemp := filepath.Join(dir, "runner")
	os.MkdirAll(runnerTemp, 0o700)
	githubEnv := filepath.Join(dir, "github_env")
	os.WriteFile(githubEnv, nil, 0o644)
	run := actionRun{steps: map[string]map[string]string{}, outputs: map[string]string{}}
	var log strings.Builder
steps:
	for i, step := range action.Runs.Steps {
		for _, c := range strings.Split(step.If, " && ") {
			if c == "" {
				continue
			}
			m := condition.FindStringSubmatch(c)
			if m == nil {
				t.Fatalf("step %d: if %q: a form this test does not evaluate", i, step.If)
			}
			if (run.steps[m[1]][m[2]] == m[4]) != (m[3] == "==") {
				fmt.Fprintf(&log, "step %d (%s): skipped (%s)\n", i, step.ID, c)
				continue steps
			}
		}
		if step.Uses != "" {
			fmt.Fprintf(&log, "step %d: %s: a cache miss\n", i, step.Uses)
			continue
		}
		if step.Shell != "bash" {
			t.Fatalf("step %d: shell %q", i, step.Shell)
		}
		output := filepath.Join(dir, fmt.Sprintf("output-%d", i))
		os.Remove(output)
		stepEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"GITHUB_ACTION_PATH=" + actionPath, "RUNNER_TEMP=" + runnerTemp, "GITHUB_ENV=" + githubEnv,
			"GITHUB_OUTPUT=" + output, "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md")}
		stepEnv = append(stepEnv, env...)
		// What earlier steps wrote to GITHUB_ENV.
		prev, _ := os.ReadFile(githubEnv)
		stepEnv = append(stepEnv, strings.Fields(string(prev))...)
		for k, v := range step.Env {
			if m := inputRef.FindStringSubmatch(v); m != nil {
				val, ok := inputs[m[1]]
				if !ok {
					t.Fatalf("step %d: env %s uses unknown input %s", i, k, m[1])
				}
				v = val
			} else if g, ok := githubRefs[v]; ok {
				v = g
			} else if strings.Contains(v, "${{") {
				t.Fatalf("step %d: env %s = %q: an expression this test does not fill", i, k, v)
			}
			stepEnv = append(stepEnv, k+"="+v)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step.Run)
		cmd.Dir = dir
		cmd.Env = stepEnv
		out, err := cmd.CombinedOutput()
		fmt.Fprintf(&log, "step %d (%s):\n%s", i, step.ID, out)
		raw, _ := os.ReadFile(output)
		outs := map[string]string{}
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				outs[k] = v
			}
		}
		run.steps[step.ID] = outs
		if err != nil {
			run.err = fmt.Errorf("step %d (%s): %w", i, step.ID, err)
			break
		}
	}
	run.log = log.String()
	t.Log(run.log)
	for name, o := range action.Outputs {
		m := stepRef.FindStringSubmatch(o.Value)
		if m == nil {
			t.Fatalf("output %s: value %q", name, o.Value)
		}
		run.outputs[name] = run.steps[m[1]][m[2]]
	}
	return run
}

// fileConfig writes a configuration with the example keys and a file:// target under dir.
func fileConfig(t *testing.T, dir string) string {
	t.Helper()
	keys, _ := filepath.Abs(filepath.Join(repoRoot, "examples/keys"))
	cfg := filepath.Join(dir, "jwkspub.yaml")
	os.WriteFile(cfg, []byte("sets:\n  - name: prod\n    sources: [file:"+keys+"/*.pub.pem]\n    targets: [file://"+dir+"/out/jwks.json]\n"), 0o644)
	return cfg
}

// TestCompositeAction runs action.yml from source (version empty, the action's own commit) in
// mode diff: the outputs, and nothing written.
func TestCompositeAction(t *testing.T) {
	action := readAction(t)
	for _, want := range []string{"config", "set", "mode", "version", "install", "vault-auth-mount"} {
		if _, ok := action.Inputs[want]; !ok {
			t.Errorf("no input %q", want)
		}
	}
	for _, want := range []string{"changed", "refused", "kids", "plan", "sign-with"} {
		if _, ok := action.Outputs[want]; !ok {
			t.Errorf("no output %q", want)
		}
	}
	// The old name of the auth mount stays, deprecated, so existing workflows keep working.
	if action.Inputs["vault-mount"].DeprecationMessage == "" {
		t.Error("input vault-mount: no deprecationMessage")
	}

	dir := t.TempDir()
	cfg := fileConfig(t, dir)
	run := runAction(t, dir, map[string]string{"config": cfg, "set": "prod", "mode": "diff"})
	if run.err != nil {
		t.Fatal(run.err)
	}
	got := run.outputs
	if got["changed"] != "true" || got["refused"] != "false" {
		t.Errorf("changed = %q, refused = %q", got["changed"], got["refused"])
	}
	var kids []string
	if err := json.Unmarshal([]byte(got["kids"]), &kids); err != nil || len(kids) != 3 {
		t.Errorf("kids = %q (%v)", got["kids"], err)
	}
	var plan struct {
		Changed bool `json:"changed"`
	}
	if err := json.Unmarshal([]byte(got["plan"]), &plan); err != nil || !plan.Changed {
		t.Errorf("plan = %q (%v)", got["plan"], err)
	}
	// Nothing is live: no timeline has a key to sign with.
	if got["sign-with"] != `[{"set":"prod","target":"file://`+dir+`/out/jwks.json","kid":null,"source":null,"version":null}]` {
		t.Errorf("sign-with = %q", got["sign-with"])
	}
	// diff writes nothing.
	if _, err := os.Stat(filepath.Join(dir, "out", "jwks.json")); err == nil {
		t.Error("mode diff wrote the target")
	}
	if !strings.Contains(run.log, "jwkspub version dev ") {
		t.Errorf("the install step does not show the version it installed")
	}
}

// TestCompositeActionRelease: `make dist` builds the release assets the release workflow
// uploads, in the format the action checks; the action downloads the binary for its version
// from a release (served locally), checks its SHA-256, and refuses a replaced one without
// falling back to anything else.
func TestCompositeActionRelease(t *testing.T) {
	const version = "v9.9.9-test"
	dist := t.TempDir()
	goos, goarch := runtime.GOOS, runtime.GOARCH
	mk := exec.Command("make", "dist", "DIST="+dist, "DIST_TARGETS="+goos+"/"+goarch, "VERSION="+version)
	mk.Dir = repoRoot
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	// The release's files: the binary by the name the action asks for, and SHA256SUMS in
	// sha256sum's format, which sha256sum -c accepts.
	asset := "jwkspub-" + goos + "-" + goarch
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}  ` + asset + "\n$").Match(sums) {
		t.Errorf("SHA256SUMS is not one `HEX  NAME` line per asset:\n%s", sums)
	}
	check := exec.Command("sha256sum", "-c", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(dist, asset), "--version").Output(); err != nil || !strings.HasPrefix(string(out), "jwkspub version "+version+" ") {
		t.Errorf("%s --version: %q (%v)", asset, out, err)
	}
	// The release workflow uploads exactly these, for the four platforms.
	if got := makeVarLine(t, "DIST_TARGETS"); got != "linux/amd64 linux/arm64 darwin/amd64 darwin/arm64" {
		t.Errorf("DIST_TARGETS = %q", got)
	}
	wf, _ := os.ReadFile(filepath.Join(repoRoot, ".github/workflows/release.yml"))
	for _, want := range []string{`make dist VERSION="$TAG"`, "dist/jwkspub-* dist/SHA256SUMS"} {
		if !bytes.Contains(wf, []byte(want)) {
			t.Errorf("release.yml does not run %q", want)
		}
	}

	// A release server: /VERSION/NAME from dist, whatever replace says for the binary.
	var replaced atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/"+version+"/")
		if name == r.URL.Path || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		if name == asset && replaced.Load() {
			w.Write([]byte("#!/bin/sh\necho jwkspub version " + version + " \n"))
			return
		}
		http.ServeFile(w, r, filepath.Join(dist, name))
	}))
	defer srv.Close()

	// No Go on PATH: a download needs none, and a build from source would fail.
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err != nil {
			path = append(path, d)
		}
	}
	noGo := "PATH=" + strings.Join(path, ":")
	tools := filepath.Join(t.TempDir(), "tool-cache")

	dir := t.TempDir()
	cfg := fileConfig(t, dir)
	with := map[string]string{"config": cfg, "set": "prod", "mode": "publish", "version": version, "release-url": srv.URL}
	run := runAction(t, dir, with, noGo, "RUNNER_TOOL_CACHE="+tools)
	if run.err != nil {
		t.Fatal(run.err)
	}
	if run.outputs["changed"] != "true" || run.outputs["refused"] != "false" {
		t.Errorf("outputs %v", run.outputs)
	}
	if !strings.Contains(run.log, "matches SHA256SUMS") || !strings.Contains(run.log, "jwkspub version "+version+" ") {
		t.Errorf("the install step does not say it checked the binary")
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "jwks.json")); err != nil {
		t.Errorf("publish with the downloaded binary wrote nothing: %v", err)
	}

	t.Run("the tool cache keeps it", func(t *testing.T) {
		dir := t.TempDir()
		with := map[string]string{"config": fileConfig(t, dir), "mode": "diff", "version": version, "release-url": "http://127.0.0.1:1"}
		run := runAction(t, dir, with, noGo, "RUNNER_TOOL_CACHE="+tools)
		if run.err != nil || !strings.Contains(run.log, "from the runner's tool cache") {
			t.Errorf("err %v; not from the tool cache", run.err)
		}
	})
	t.Run("a replaced binary is refused", func(t *testing.T) {
		replaced.Store(true)
		defer replaced.Store(false)
		dir := t.TempDir()
		with := map[string]string{"config": fileConfig(t, dir), "mode": "publish", "version": version, "release-url": srv.URL}
		run := runAction(t, dir, with, noGo, "RUNNER_TOOL_CACHE="+t.TempDir())
		if run.err == nil || !strings.Contains(run.log, "but SHA256SUMS says") {
			t.Fatalf("err %v: want the checksum mismatch", run.err)
		}
		// It stopped there: no build from source, no rotation.
		if _, ok := run.steps["rotate"]; ok || strings.Contains(run.log, "building from source") {
			t.Error("went on after a checksum mismatch")
		}
	})
	t.Run("a release without this platform", func(t *testing.T) {
		// auto: the build from source takes over, cached by version.
		dir := t.TempDir()
		with := map[string]string{"config": fileConfig(t, dir), "version": "v9.9.8", "release-url": srv.URL}
		run := runAction(t, dir, with, noGo, "RUNNER_TOOL_CACHE="+tools)
		if d := run.steps["download"]; d["installed"] == "true" || d["cache-key"] != "jwkspub-bin-"+goos+"-"+goarch+"-v9.9.8" ||
			d["cache-path"] != filepath.Join(tools, "jwkspub", "v9.9.8", goarch) {
			t.Errorf("download step outputs %v: want the source build's cache key and path", d)
		}
		// (Without Go it cannot build: it says what to add.)
		if run.err == nil || !strings.Contains(run.log, "building from source needs Go") {
			t.Errorf("err %v", run.err)
		}
		// download: no fallback.
		with["install"] = "download"
		run = runAction(t, t.TempDir(), with, noGo, "RUNNER_TOOL_CACHE="+tools)
		if run.err == nil || !strings.Contains(run.log, "no released binary "+asset+" for v9.9.8") {
			t.Errorf("install: download: err %v", run.err)
		}
	})
}

// makeVarLine reads a Makefile variable whose value may hold spaces (NAME ?= value).
func makeVarLine(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*\??=\s*(.*?)\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("Makefile has no %s", name)
	}
	return string(m[1])
}
