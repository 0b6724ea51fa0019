package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// checkInvocation fails when args (a jwkspub command line without the program) names a
// command or flag jwkspub does not have, or when env names a JWKSPUB_ variable that no flag of
// the command reads: examples rot silently when a flag is renamed.
func checkInvocation(t *testing.T, where string, args []string, env []string) {
	t.Helper()
	app := newApp(env0())
	if len(args) == 0 {
		t.Errorf("%s: no command", where)
		return
	}
	cmd := app.Command(args[0])
	if cmd == nil {
		t.Errorf("%s: no command %q", where, args[0])
		return
	}
	names, envs := map[string]bool{}, map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			names[n] = true
		}
		if d, ok := f.(cli.DocGenerationFlag); ok {
			for _, e := range d.GetEnvVars() {
				envs[e] = true
			}
		}
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !names[name] {
			t.Errorf("%s: %s has no flag --%s", where, args[0], name)
		}
	}
	for _, e := range env {
		if strings.HasPrefix(e, "JWKSPUB_") && !envs[e] {
			t.Errorf("%s: %s reads no %s", where, args[0], e)
		}
	}
}

func env0() env {
	return env{stdout: io.Discard, stderr: io.Discard, lookup: func(string) (string, bool) { return "", false }}
}

func TestExampleSystemdUnit(t *testing.T) {
	f, err := os.Open("../../examples/systemd/jwkspub.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var env []string
	var execs [][]string
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		keys[k] = v
		switch k {
		case "Environment":
			name, _, _ := strings.Cut(v, "=")
			env = append(env, name)
		case "ExecStart", "ExecStartPost":
			fields := strings.Fields(v)
			if fields[0] != "/usr/local/bin/jwkspub" {
				t.Errorf("%s runs %s", k, fields[0])
			}
			execs = append(execs, fields[1:])
		}
	}
	if len(execs) != 2 {
		t.Fatalf("found %d jwkspub commands, want publish and verify", len(execs))
	}
	// The variables go to publish, which reads the sources; verify reads the same Vault ones.
	for _, args := range execs {
		checkInvocation(t, "jwkspub.service", args, env)
	}
	// The metrics file goes to a directory the unit creates for its own user: publish writes
	// it after every run, and a directory it cannot write fails the run after publishing.
	i := slices.Index(execs[0], "--metrics-file")
	if i < 0 || i+1 >= len(execs[0]) {
		t.Fatal("publish writes no metrics file")
	}
	metricsDir := filepath.Dir(execs[0][i+1])
	if want := "/var/lib/" + keys["StateDirectory"]; keys["StateDirectory"] == "" || metricsDir != want {
		t.Errorf("metrics in %s, but the unit's StateDirectory is %q: it must create the directory it writes", metricsDir, want)
	}
	// A dynamic user's state directory is under /var/lib/private (0700): node_exporter
	// could not read the metrics there.
	if keys["DynamicUser"] == "yes" {
		t.Error("DynamicUser=yes: the metrics would be out of node_exporter's reach")
	}
	if u := keys["User"]; u == "" || u == "root" || u == "0" {
		t.Errorf("User=%q: run as an unprivileged system user", u)
	}
	if m := keys["StateDirectoryMode"]; m != "0755" {
		t.Errorf("StateDirectoryMode=%q: node_exporter must be able to read the metrics", m)
	}
	if keys["ProtectSystem"] != "strict" {
		t.Errorf("ProtectSystem=%q, want strict (only the state directory writable)", keys["ProtectSystem"])
	}
}

func TestExampleKubernetesCronJob(t *testing.T) {
	data, err := os.ReadFile("../../examples/kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var (
		cfgText string
		cronjob map[string]any
	)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch doc["kind"] {
		case "ConfigMap":
			cfgText, _ = dig(doc, "data", "jwkspub.yaml").(string)
		case "CronJob":
			cronjob = doc
		}
	}
	// The configuration it mounts is one jwkspub accepts.
	if _, err := config.ParseConfig([]byte(cfgText), "cronjob.yaml ConfigMap"); err != nil {
		t.Errorf("the ConfigMap's configuration: %v", err)
	}
	if cronjob == nil {
		t.Fatal("no CronJob")
	}
	if got := dig(cronjob, "spec", "concurrencyPolicy"); got != "Forbid" {
		t.Errorf("concurrencyPolicy %v: two rotations could overlap", got)
	}
	pod := dig(cronjob, "spec", "jobTemplate", "spec", "template", "spec")
	if dig(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pod may run as root")
	}
	containers, _ := dig(pod, "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0]
	for path, want := range map[string]any{
		"securityContext.readOnlyRootFilesystem":   true,
		"securityContext.allowPrivilegeEscalation": false,
	} {
		if got := dig(c, strings.Split(path, ".")...); got != want {
			t.Errorf("container %s = %v, want %v", path, got, want)
		}
	}
	if drop, _ := dig(c, "securityContext", "capabilities", "drop").([]any); !slices.Contains(drop, any("ALL")) {
		t.Errorf("capabilities drop %v, want ALL", drop)
	}
	for _, r := range []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} {
		if dig(c, append([]string{"resources"}, strings.Split(r, ".")...)...) == nil {
			t.Errorf("no resources.%s", r)
		}
	}
	var args, env []string
	for _, a := range dig(c, "args").([]any) {
		args = append(args, a.(string))
	}
	for _, e := range dig(c, "env").([]any) {
		env = append(env, dig(e, "name").(string))
	}
	checkInvocation(t, "cronjob.yaml", args, env)
}

// dig walks nested YAML maps; nil when a key is missing.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
