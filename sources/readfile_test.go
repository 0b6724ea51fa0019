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
		got, err := readFile(write("f", data))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("readFile(%d bytes) = %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("readFile(dir) = %v", err)
	}
	missing := filepath.Join(dir, "missing.pem")
	if _, err := readFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "open "+missing) {
		t.Errorf("readFile(missing) = %v, want a *PathError naming the file", err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxFileSize + 1); err != nil { // sparse: no 64 MB written
		t.Fatal(err)
	}
	f.Close()
	if _, err := readFile(big); err == nil || !strings.Contains(err.Error(), "is larger than") {
		t.Errorf("readFile(big) = %v", err)
	}
	// /proc files report size 0 but have contents: the buffer must grow.
	if runtime.GOOS == "linux" {
		if got, err := readFile("/proc/self/status"); err != nil || !bytes.Contains(got, []byte("Name:")) {
			t.Errorf("readFile(/proc/self/status) = %q, %v", got, err)
		}
	}
}
