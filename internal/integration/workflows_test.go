//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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
// every workflow sets top-level permissions, and only the rotation job may mint OIDC tokens.
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
			if p, ok := j["permissions"]; ok && name != "rotate.yml" {
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

// TestCompositeAction runs action.yml's steps the way the runner does for a composite action:
// each step's env with ${{ inputs.* }} filled from the inputs (or their defaults), its run
// script under bash -e, GITHUB_ACTION_PATH at the repository, GITHUB_ENV carried from step to
// step, and the action's outputs read from the rotate step's GITHUB_OUTPUT.
func TestCompositeAction(t *testing.T) {
	var action struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
		Outputs map[string]struct {
			Value string `yaml:"value"`
		} `yaml:"outputs"`
		Runs struct {
			Using string `yaml:"using"`
			Steps []struct {
				ID    string            `yaml:"id"`
				Shell string            `yaml:"shell"`
				Env   map[string]string `yaml:"env"`
				Run   string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
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
	for _, want := range []string{"config", "set", "mode", "version"} {
		if _, ok := action.Inputs[want]; !ok {
			t.Errorf("no input %q", want)
		}
	}

	dir := t.TempDir()
	keys, _ := filepath.Abs(filepath.Join(repoRoot, "examples/keys"))
	cfg := filepath.Join(dir, "jwkspub.yaml")
	os.WriteFile(cfg, []byte("sets:\n  - name: prod\n    sources: [file:"+keys+"/*.pub.pem]\n    targets: [file://"+dir+"/out/jwks.json]\n"), 0o644)
	inputs := map[string]string{}
	for k, v := range action.Inputs {
		inputs[k] = v.Default
	}
	inputs["config"], inputs["set"], inputs["mode"] = cfg, "prod", "diff"

	actionPath, _ := filepath.Abs(repoRoot)
	runnerTemp := filepath.Join(dir, "runner")
	os.Mkdir(runnerTemp, 0o700)
	githubEnv := filepath.Join(dir, "github_env")
	os.WriteFile(githubEnv, nil, 0o644)
	inputRef := regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)
	stepOutputs := map[string]map[string]string{}
	for i, step := range action.Runs.Steps {
		if step.Shell != "bash" {
			t.Fatalf("step %d: shell %q", i, step.Shell)
		}
		output := filepath.Join(dir, fmt.Sprintf("output-%d", i))
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"GITHUB_ACTION_PATH=" + actionPath, "RUNNER_TEMP=" + runnerTemp, "GITHUB_ENV=" + githubEnv,
			"GITHUB_OUTPUT=" + output, "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary.md")}
		// What earlier steps wrote to GITHUB_ENV.
		prev, _ := os.ReadFile(githubEnv)
		env = append(env, strings.Fields(string(prev))...)
		for k, v := range step.Env {
			if m := inputRef.FindStringSubmatch(v); m != nil {
				val, ok := inputs[m[1]]
				if !ok {
					t.Fatalf("step %d: env %s uses unknown input %s", i, k, m[1])
				}
				v = val
			}
			env = append(env, k+"="+v)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step.Run)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("step %d (%s):\n%s", i, step.ID, out)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		raw, _ := os.ReadFile(output)
		outs := map[string]string{}
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				outs[k] = v
			}
		}
		stepOutputs[step.ID] = outs
	}
	stepRef := regexp.MustCompile(`^\$\{\{ steps\.([a-z-]+)\.outputs\.([a-z-]+) \}\}$`)
	got := map[string]string{}
	for name, o := range action.Outputs {
		m := stepRef.FindStringSubmatch(o.Value)
		if m == nil {
			t.Fatalf("output %s: value %q", name, o.Value)
		}
		got[name] = stepOutputs[m[1]][m[2]]
	}
	if got["changed"] != "true" {
		t.Errorf("changed = %q", got["changed"])
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
	// diff writes nothing.
	if _, err := os.Stat(filepath.Join(dir, "out", "jwks.json")); err == nil {
		t.Error("mode diff wrote the target")
	}
}
