//go:build integration

package integration

import (
	"bytes"
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
