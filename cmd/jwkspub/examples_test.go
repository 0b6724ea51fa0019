package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
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

// The Kubernetes objects of cronjob.yaml, as far as the example uses them: decoded with
// KnownFields, a misspelt or misplaced field (or one this structure does not know yet) fails
// the test rather than being silently dropped by the API server's pruning. No Kubernetes
// schemas are available offline here (kubeconform fetches them), so this is the check.
type (
	k8sMeta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	k8sObject struct {
		APIVersion                   string            `yaml:"apiVersion"`
		Kind                         string            `yaml:"kind"`
		Metadata                     k8sMeta           `yaml:"metadata"`
		AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken"`
		Data                         map[string]string `yaml:"data"`
		Spec                         *k8sCronJobSpec   `yaml:"spec"`
	}
	k8sCronJobSpec struct {
		Schedule                   string `yaml:"schedule"`
		ConcurrencyPolicy          string `yaml:"concurrencyPolicy"`
		StartingDeadlineSeconds    int    `yaml:"startingDeadlineSeconds"`
		SuccessfulJobsHistoryLimit int    `yaml:"successfulJobsHistoryLimit"`
		FailedJobsHistoryLimit     int    `yaml:"failedJobsHistoryLimit"`
		JobTemplate                struct {
			Spec struct {
				BackoffLimit          *int `yaml:"backoffLimit"`
				ActiveDeadlineSeconds int  `yaml:"activeDeadlineSeconds"`
				Template              struct {
					Metadata k8sMeta    `yaml:"metadata"`
					Spec     k8sPodSpec `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	}
	k8sPodSpec struct {
		ServiceAccountName           string `yaml:"serviceAccountName"`
		AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
		RestartPolicy                string `yaml:"restartPolicy"`
		SecurityContext              struct {
			RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
			RunAsUser      int   `yaml:"runAsUser"`
			RunAsGroup     int   `yaml:"runAsGroup"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		InitContainers []k8sContainer `yaml:"initContainers"`
		Containers     []k8sContainer `yaml:"containers"`
		Volumes        []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
			Projected *struct {
				Sources []struct {
					ServiceAccountToken *struct {
						Audience          string `yaml:"audience"`
						ExpirationSeconds int    `yaml:"expirationSeconds"`
						Path              string `yaml:"path"`
					} `yaml:"serviceAccountToken"`
				} `yaml:"sources"`
			} `yaml:"projected"`
			EmptyDir *struct {
				SizeLimit string `yaml:"sizeLimit"`
			} `yaml:"emptyDir"`
		} `yaml:"volumes"`
	}
	k8sContainer struct {
		Name            string   `yaml:"name"`
		Image           string   `yaml:"image"`
		ImagePullPolicy string   `yaml:"imagePullPolicy"`
		Args            []string `yaml:"args"`
		Env             []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
)

func TestExampleKubernetesCronJob(t *testing.T) {
	data, err := os.ReadFile("../../examples/kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("cronjob.yaml: %v", err)
		}
		want := map[string]string{"Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "CronJob": "batch/v1"}[o.Kind]
		if want == "" || o.APIVersion != want {
			t.Errorf("%s %s: apiVersion %q, want %q", o.Kind, o.Metadata.Name, o.APIVersion, want)
		}
		if o.Kind != "Namespace" && o.Metadata.Namespace != "jwks" {
			t.Errorf("%s %s in namespace %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
		if (o.Spec != nil) != (o.Kind == "CronJob") {
			t.Errorf("%s: spec where none belongs, or none", o.Kind)
		}
		objs[o.Kind] = o
	}
	sa, cm, cj := objs["ServiceAccount"], objs["ConfigMap"], objs["CronJob"]
	if cj.Spec == nil {
		t.Fatal("no CronJob")
	}
	// The configuration it mounts is one jwkspub accepts.
	if _, err := config.ParseConfig([]byte(cm.Data["jwkspub.yaml"]), "cronjob.yaml ConfigMap"); err != nil {
		t.Errorf("the ConfigMap's configuration: %v", err)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q: two rotations could overlap", cj.Spec.ConcurrencyPolicy)
	}
	if b := cj.Spec.JobTemplate.Spec.BackoffLimit; b == nil || *b != 0 {
		t.Error("backoffLimit is not 0: a refused publish would be retried")
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod may run as root")
	}
	if pod.ServiceAccountName != sa.Metadata.Name {
		t.Errorf("pod runs as %q, the ServiceAccount is %q", pod.ServiceAccountName, sa.Metadata.Name)
	}
	// publish, then verify --expect against the public URL: an init container runs to
	// completion (and a failed one fails the Job) before the container starts.
	if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 {
		t.Fatalf("%d init containers, %d containers; want publish, then verify", len(pod.InitContainers), len(pod.Containers))
	}
	publish, verify := pod.InitContainers[0], pod.Containers[0]
	if publish.Args[0] != "publish" || verify.Args[0] != "verify" {
		t.Fatalf("init container runs %v, container %v; want publish, then verify", publish.Args, verify.Args)
	}
	for _, want := range []string{"--expect", "--url=https://auth.example.com/.well-known/jwks.json", "--set=prod"} {
		if !slices.Contains(verify.Args, want) {
			t.Errorf("verify runs without %s: %v", want, verify.Args)
		}
	}
	var audience string
	for _, v := range pod.Volumes {
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil {
					audience = src.ServiceAccountToken.Audience
				}
			}
		}
	}
	var role string
	for _, c := range []k8sContainer{publish, verify} {
		where := "cronjob.yaml " + c.Name
		sc := c.SecurityContext
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: want a read-only root and no privilege escalation", where)
		}
		if !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: capabilities drop %v, want ALL", where, sc.Capabilities.Drop)
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
				t.Errorf("%s: no %s request and limit", where, r)
			}
		}
		var env []string
		for _, e := range c.Env {
			env = append(env, e.Name)
			if e.Name == "JWKSPUB_VAULT_ROLE" {
				role = e.Value
			}
		}
		checkInvocation(t, where, c.Args, env)
	}
	// The Vault role the header tells to create is the one the pods log in as, bound to this
	// ServiceAccount, its namespace and the projected token's audience.
	m := regexp.MustCompile(`(?m)^#\s+vault write auth/kubernetes/role/(\S+) (.*)$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("the header does not say how to create the Vault Kubernetes auth role")
	}
	if m[1] != role {
		t.Errorf("the header creates Vault role %q, the pods log in as %q", m[1], role)
	}
	for _, want := range []string{"bound_service_account_names=" + sa.Metadata.Name, "bound_service_account_namespaces=" + sa.Metadata.Namespace,
		"audience=" + audience, "token_policies=jwks-read"} {
		if !slices.Contains(strings.Fields(m[2]), want) {
			t.Errorf("the Vault role is not bound with %s: %s", want, m[2])
		}
	}
}
