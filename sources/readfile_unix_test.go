//go:build unix

package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileRefusesFIFO: a FIFO among the key files once blocked the open forever (no writer
// ever came) and the signal meant to end jwkspub could not interrupt it. It is refused before
// anything can wait. The deadline only turns a hang into a failure.
func TestReadFileRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "key.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := (&File{Pattern: filepath.Join(dir, "*.pem")}).Keys(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), "is a named pipe (FIFO)") || !strings.Contains(err.Error(), "fix: give a regular file") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(30 * time.Second):
		// Open the writing end so the blocked reader returns and the test can end.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("reading a FIFO key file blocked")
	}
	if _, err := readFile("/dev/null", NewBudget(0)); !errors.Is(err, errNotRegular) || !strings.Contains(err.Error(), "is a device") {
		t.Errorf("readFile(/dev/null) = %v", err)
	}
}
