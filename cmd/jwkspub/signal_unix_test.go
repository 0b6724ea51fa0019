//go:build unix

package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitBound is the deadline for a signaled jwkspub to be gone: a bound for failing the test on
// a loaded machine, not a claim about how fast it exits (interruptGrace is 750 ms).
const exitBound = 10 * time.Second

// startJWKSPUB starts this test binary as the jwkspub command (testscript.Main picks the
// command by the name it is run as) in dir.
func startJWKSPUB(t *testing.T, dir string, extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer, *exited) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "jwkspub")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	x := &exited{done: make(chan struct{})}
	go func() {
		x.err = cmd.Wait()
		close(x.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-x.done
	})
	return cmd, &stderr, x
}

// exited is a started process's end: done is closed once it has exited, with err from Wait.
type exited struct {
	done chan struct{}
	err  error
}

// waitExit waits for the process to exit within exitBound and returns its exit code.
func waitExit(t *testing.T, x *exited, stderr *bytes.Buffer) int {
	t.Helper()
	select {
	case <-x.done:
		var ee *exec.ExitError
		if errors.As(x.err, &ee) {
			return ee.ExitCode()
		}
		if x.err != nil {
			t.Fatal(x.err)
		}
		return 0
	case <-time.After(exitBound):
		t.Fatalf("still running %v after the signal; stderr:\n%s", exitBound, stderr)
	}
	return -1
}

// openedForReading waits until some process has fifo open for reading (opening the writing end
// without blocking succeeds only then) and returns that writing end, held open so the reader's
// read keeps waiting for data.
func openedForReading(t *testing.T, fifo string) *os.File {
	t.Helper()
	deadline := time.Now().Add(exitBound)
	for {
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			t.Cleanup(func() { w.Close() })
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("jwkspub never opened %s: %v", fifo, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSignalEndsBlockedCommand: a command stuck where canceling its context does not reach (a
// configuration file that is a FIFO, read in a plain read) ignored SIGTERM and SIGINT until
// SIGKILL. It now ends within the grace period, or at once on a second signal, with exit 1 and
// a message saying why.
func TestSignalEndsBlockedCommand(t *testing.T) {
	for _, tt := range []struct {
		name    string
		signals []os.Signal
		want    string
	}{
		{"SIGTERM", []os.Signal{syscall.SIGTERM}, "still blocked 750ms after SIGTERM"},
		{"SIGINT", []os.Signal{os.Interrupt}, "still blocked 750ms after SIGINT"},
		{"two signals", []os.Signal{syscall.SIGTERM, os.Interrupt}, "received again: exiting now"}, // pending signals arrive in either order
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "jwkspub.yaml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFOs here: %v", err)
			}
			cmd, stderr, waited := startJWKSPUB(t, dir, nil, "build", "--config", fifo)
			openedForReading(t, fifo)
			for _, s := range tt.signals {
				if err := cmd.Process.Signal(s); err != nil {
					t.Fatal(err)
				}
			}
			if code := waitExit(t, waited, stderr); code != exitError {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitError, stderr)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr does not say %q:\n%s", tt.want, stderr)
			}
		})
	}
}

// TestSignalCancelsWait: a wait that watches the context (a Vault request that gets no answer)
// ends with the command's own error, not the grace period's.
func TestSignalCancelsWait(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	cmd, stderr, waited := startJWKSPUB(t, t.TempDir(), []string{"VAULT_ADDR=" + srv.URL, "VAULT_TOKEN=t", "HOME=" + t.TempDir()},
		"build", "--source", "vault-kv:secret/jwt#key", "--vault-timeout", "1h", "-o", "-")
	select {
	case <-arrived:
	case <-time.After(exitBound):
		t.Fatalf("no request reached the Vault server; stderr:\n%s", stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, waited, stderr); code != exitError {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitError, stderr)
	}
	if s := stderr.String(); !strings.Contains(s, "SIGTERM received: stopping") || !strings.Contains(s, "context canceled") || strings.Contains(s, "still blocked") {
		t.Errorf("stderr:\n%s", s)
	}
}
