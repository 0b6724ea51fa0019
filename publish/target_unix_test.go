//go:build unix

package publish

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFileTargetRefusesFIFO: a FIFO at a file target's document (or at its .attrs sidecar, or
// the state object) made fileblob block opening it for reading, and SIGTERM could not end the
// run. It is refused before fileblob touches it; the deadline only turns a hang into a failure.
func TestFileTargetRefusesFIFO(t *testing.T) {
	for _, name := range []string{"jwks.json", "jwks.json.attrs", "jwks.json.state.json"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tg := fileTarget(t, dir)
			fifo := filepath.Join(dir, ".well-known", name)
			if err := os.MkdirAll(filepath.Dir(fifo), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFOs here: %v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := PlanTarget(context.Background(), tg, PlanOptions{Set: testSet("prod"), Keys: rotKeys(t, 1), Now: t0, Version: "test"})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), name+" is a named pipe (FIFO), not a regular file (fix: remove it") {
					t.Errorf("err = %v", err)
				}
			case <-time.After(30 * time.Second):
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatal("planning a file target with a FIFO in it blocked")
			}
			if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO was replaced: %v %v", fi, err)
			}
		})
	}
}
