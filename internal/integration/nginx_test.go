//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/templates"
)

// needEnv returns a variable that .ci/services.sh exports, failing (never skipping) when the
// suite was started without it.
func needEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with make integration (.ci/services.sh start installs what it names)", name)
	}
	return v
}

// nobody is the unprivileged account nginx runs as when the tests run as root.
const nobodyID = 65534

// nginxServer is a real nginx serving a context rendered by publish.RenderContext, as a
// non-root user, on a free loopback port.
type nginxServer struct {
	URL       string
	Dir       string // the build context: read-only to nginx
	AccessLog string
	listen    string
	runDir    string // writable by nginx: temp paths, pid, logs
	cmd       *exec.Cmd
	stderr    *os.File
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sharedTempDir makes a directory other users can traverse (t.TempDir's parent is 0700).
func sharedTempDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startNginx renders set into a new context and serves it with real nginx.
func startNginx(t *testing.T, set *config.SetConfig, keys *jwks.Set) *nginxServer {
	t.Helper()
	nginxBin := needEnv(t, "JWKSPUB_NGINX")
	s := &nginxServer{Dir: filepath.Join(sharedTempDir(t, "jwkspub-ctx-*"), "ctx"), runDir: sharedTempDir(t, "jwkspub-run-*")}
	s.listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.URL = "http://" + s.listen
	s.AccessLog = filepath.Join(s.runDir, "access.log")
	s.render(t, set, keys)
	asRoot := os.Geteuid() == 0
	if asRoot {
		// The run directory belongs to nginx's user; the context stays root's, so nginx can
		// only read its documents.
		if err := os.Chown(s.runDir, nobodyID, nobodyID); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if s.stderr, err = os.Create(filepath.Join(t.TempDir(), "nginx.stderr")); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(nginxBin, s.entrypointArgs(t)...)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	if asRoot {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	var waitErr error
	exited := make(chan struct{}) // closed when nginx has exited; waitErr is then set
	go func() { waitErr = s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
		// A read-only root filesystem shows up as nginx failing to write somewhere: it may only
		// write under the run directory (the image's /tmp).
		if text := s.stderrText(); strings.Contains(text, "[alert]") || strings.Contains(text, "[crit]") ||
			strings.Contains(text, "[emerg]") || strings.Contains(text, "Permission denied") {
			t.Errorf("nginx reported problems:\n%s", text)
		}
		s.stderr.Close()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %v\n%s", waitErr, s.stderrText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not ready after 15s: %v\n%s", err, s.stderrText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if uid := procUID(t, s.cmd.Process.Pid); uid == 0 {
		t.Fatalf("nginx master runs as root")
	}
	return s
}

// entrypointArgs are the arguments of the rendered Dockerfile's ENTRYPOINT, with the image's
// paths mapped to this server's: the context directory for /srv/jwkspub, the run directory
// (writable, like the image's tmpfs) for the pid file. So the test runs the image's command.
func (s *nginxServer) entrypointArgs(t *testing.T) []string {
	t.Helper()
	docker, err := os.ReadFile(filepath.Join(s.Dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(docker), "\n") {
		if v, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			if err := json.Unmarshal([]byte(v), &args); err != nil {
				t.Fatalf("ENTRYPOINT is not an exec-form array: %v", err)
			}
		}
	}
	if len(args) < 2 || args[0] != "nginx" {
		t.Fatalf("the Dockerfile's ENTRYPOINT %q does not run nginx", args)
	}
	pid := "pid /tmp/nginx.pid;"
	for i, a := range args[1:] {
		a = strings.ReplaceAll(a, "/srv/jwkspub", s.Dir)
		if !strings.Contains(a, pid) && strings.Contains(a, "pid ") {
			t.Fatalf("ENTRYPOINT argument %q: the pid file is not %s", a, pid)
		}
		args[i+1] = strings.ReplaceAll(a, pid, "pid "+filepath.Join(s.runDir, "nginx.pid")+";")
	}
	return args[1:]
}

// render writes the context for set into s.Dir, as `jwkspub render` does, with the listen
// address and log and temp paths of this server.
func (s *nginxServer) render(t *testing.T, set *config.SetConfig, keys *jwks.Set) []publish.ContextFile {
	t.Helper()
	p := templates.Defaults()
	p.Listen = s.listen
	p.AccessLog = s.AccessLog
	p.TempDir = s.runDir
	files, err := publish.RenderContext(publish.ContextOptions{Set: set, Keys: keys, Params: p})
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		// Not root: nginx runs as this user, so the context is made read-only around the write.
		setWritable(t, s.Dir, true)
		defer setWritable(t, s.Dir, false)
	}
	if err := publish.WriteContext(context.Background(), s.Dir, files); err != nil {
		t.Fatal(err)
	}
	return files
}

// setWritable flips the write bits of a context's directories (only used when not root).
func setWritable(t *testing.T, dir string, w bool) {
	t.Helper()
	mode := os.FileMode(0o555)
	if w {
		mode = 0o755
	}
	for _, d := range []string{dir, filepath.Join(dir, "html"), filepath.Join(dir, "html", ".well-known")} {
		if err := os.Chmod(d, mode); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

func (s *nginxServer) stderrText() string {
	b, _ := os.ReadFile(s.stderr.Name())
	return string(b)
}

// procUID is the real uid of a process, from /proc.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			var uid int
			fmt.Sscan(f[1], &uid)
			return uid
		}
	}
	t.Fatal("no Uid in /proc status")
	return -1
}

// accessLine is one line of the JSON access log the template configures.
type accessLine struct {
	Method        string `json:"method"`
	URI           string `json:"uri"`
	Status        int    `json:"status"`
	BodyBytesSent int    `json:"body_bytes_sent"`
	BytesSent     int    `json:"bytes_sent"`
	IfNoneMatch   string `json:"if_none_match"`
	UserAgent     string `json:"user_agent"`
}

// waitAccessLog polls the access log until done accepts its lines, for up to 5 seconds (the
// configuration buffers the log and flushes it every second), and returns the last lines read.
func (s *nginxServer) waitAccessLog(t *testing.T, done func([]accessLine) bool) []accessLine {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := s.accessLog(t)
		if done(lines) || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// accessLog parses every line nginx has logged so far; a line that is not JSON fails the test.
func (s *nginxServer) accessLog(t *testing.T) []accessLine {
	t.Helper()
	b, err := os.ReadFile(s.AccessLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []accessLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// runNginxConf runs nginx in the foreground with the prefix run (its pid and temporary files)
// and http, the directives inside its http block, until the test ends, and returns once ready
// reports it answers (within 15s, else the test fails with nginx's own messages). As root,
// nginx would switch its workers to nobody; the whole process runs as nobody instead, so run
// is handed to nobody.
func runNginxConf(t *testing.T, nginxBin, run, http string, ready func() error) {
	t.Helper()
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
%[2]s}
`, run, http)
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
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(stderr.Name())
			t.Fatalf("nginx exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(stderr.Name())
			t.Fatalf("nginx not ready after 15s: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
