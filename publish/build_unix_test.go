//go:build unix

package publish

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteFileAtomicSpecialPaths: renaming a temporary file over a symlink, a device or a
// pipe would replace it (as root, "build -o /dev/null" once replaced /dev/null with a file).
func TestWriteFileAtomicSpecialPaths(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(target); string(got) != "new" {
		t.Errorf("link target holds %q", got)
	}

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	// Without a reader, opening the pipe for writing would block in a system call no signal
	// handler can end: it is refused at once, and the pipe stays.
	done := make(chan error, 1)
	go func() { done <- WriteFileAtomic(fifo, []byte("nobody reads"), 0o644) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe (FIFO) that no process is reading: start its reader first") {
			t.Errorf("writing a pipe nobody reads: %v", err)
		}
	case <-time.After(30 * time.Second): // a deadline for the failure, not a speed claim
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer r.Close() // lets the blocked writer return
		}
		t.Fatal("writing a pipe nobody reads blocked")
	}
	// With its reader, the pipe is written through.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0) // the reader, already there
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := WriteFileAtomic(fifo, []byte("through the pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", fi, err) // its reader would wait forever
	}
	if b, err := io.ReadAll(r); string(b) != "through the pipe" {
		t.Errorf("reader got %q, %v", b, err)
	}
	if err := WriteFileAtomic(dir, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("writing over a directory: %v", err)
	}
}
