package sources

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadFile covers the key file reader the file source uses for every match: exact
// contents whatever the size relative to its buffer, and refusals that name the path.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 1 << 20} {
		data := bytes.Repeat([]byte("k"), n)
		got, err := readFile(write("f", data), NewBudget(0))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("readFile(%d bytes) = %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readFile(dir, NewBudget(0)); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("readFile(dir, NewBudget(0)) = %v", err)
	}
	missing := filepath.Join(dir, "missing.pem")
	if _, err := readFile(missing, NewBudget(0)); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "open "+missing) {
		t.Errorf("readFile(missing, NewBudget(0)) = %v, want a *PathError naming the file", err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(DefaultMaxInputBytes + 1); err != nil { // sparse: no 64 MB written
		t.Fatal(err)
	}
	f.Close()
	if _, err := readFile(big, NewBudget(0)); !errors.Is(err, ErrInputBudget) || !strings.Contains(err.Error(), "67108865 bytes (64.0 MiB) is more than the input budget of 67108864 bytes (64.0 MiB)") {
		t.Errorf("readFile(big) = %v", err)
	}
	// /proc files report size 0 but have contents: the buffer must grow.
	if runtime.GOOS == "linux" {
		if got, err := readFile("/proc/self/status", NewBudget(0)); err != nil || !bytes.Contains(got, []byte("Name:")) {
			t.Errorf("readFile(/proc/self/status) = %q, %v", got, err)
		}
	}
}

// TestReadFileBudget: the budget is shared by every read, checked before a file is read when
// its size is known, and while reading when it is not (/proc files say 0).
func TestReadFileBudget(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, bytes.Repeat([]byte("k"), 600), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	budget := NewBudget(1000)
	if _, err := readFile(a, budget); err != nil {
		t.Fatal(err)
	}
	_, err := readFile(b, budget)
	if !errors.Is(err, ErrInputBudget) || !strings.Contains(err.Error(), "600 bytes would pass the input budget of 1000 bytes, of which other input already took 600 bytes") {
		t.Errorf("second file: %v", err)
	}
	if budget.Used() != 600 {
		t.Errorf("a refused read was charged: used %d", budget.Used())
	}
	if runtime.GOOS == "linux" {
		if _, err := readFile("/proc/self/status", NewBudget(10)); !errors.Is(err, ErrInputBudget) {
			t.Errorf("a /proc file beyond the budget: %v", err)
		}
	}
}
