//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jwkspub/jwkspub/publish/target"
)

const jwks = "jwks.json"

// newTarget makes a target for jwks.json in dir, failing the test on error.
func newTarget(t *testing.T, dir string, o Options) *Target {
	t.Helper()
	tg, err := New(dir, jwks, o)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// objects is a whole publication tagged tag: every name of the set, in write order, with
// bodies that say which publication and which object they are. Names in del are deleted.
func objects(names target.Names, tag string, del ...string) []target.Object {
	var out []target.Object
	for _, n := range names.All() {
		if slices.Contains(del, n) {
			out = append(out, target.Object{Name: n, Delete: true})
			continue
		}
		out = append(out, target.Object{Name: n, Body: []byte(fmt.Sprintf("{%q: %q}\n", n, tag))})
	}
	return out
}

// want is what objs leave on disk: name -> body.
func want(objs []target.Object) map[string]string {
	m := map[string]string{}
	for _, o := range objs {
		if !o.Delete {
			m[o.Name] = string(o.Body)
		}
	}
	return m
}

// onDisk is every entry of dir: a regular file's body, or what else it is.
func onDisk(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() {
			m[e.Name()] = "<" + e.Type().String() + ">"
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

// checkDisk fails unless dir holds exactly wantFiles.
func checkDisk(t *testing.T, dir string, wantFiles map[string]string) {
	t.Helper()
	got := onDisk(t, dir)
	if !maps.Equal(got, wantFiles) {
		t.Errorf("on disk:\n%v\nwant:\n%v", got, wantFiles)
	}
}

// bodies is a snapshot's objects as name -> body.
func bodies(s *target.Snapshot) map[string]string {
	m := map[string]string{}
	for n, o := range s.Objects {
		m[n] = string(o.Body)
	}
	return m
}

func TestReadNothingPublished(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"empty directory", func(t *testing.T) string { return t.TempDir() }},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "www") }},
		{"missing parent", func(t *testing.T) string { return filepath.Join(t.TempDir(), "a", "b") }},
		{"directory through a link", func(t *testing.T) string {
			real := t.TempDir()
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, statErr := os.Stat(dir)
			tg := newTarget(t, dir, Options{Gzip: true})
			s, err := tg.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.Revision != "" || len(s.Objects) != 0 || s.Objects == nil || s.Attributes {
				t.Errorf("snapshot = %+v, want empty with a non-nil map and no attributes", s)
			}
			if s.Names != target.NamesFor(jwks, true) {
				t.Errorf("names = %+v", s.Names)
			}
			if _, err := os.Stat(dir); (err == nil) != (statErr == nil) {
				t.Errorf("Read changed whether %s exists: %v", dir, err)
			}
		})
	}
}

func TestReadNotADirectory(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "blocked"), []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(base, "blocked"), filepath.Join(base, "blocked", "sub")} {
		tg := newTarget(t, dir, Options{})
		_, err := tg.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("Read(%s) err = %v", dir, err)
		}
		err = tg.Write(context.Background(), nil, objects(tg.Names(), "new"))
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Write(%s) err = %v", dir, err)
		}
	}
	checkDisk(t, base, map[string]string{"blocked": "not a directory\n"})
}

func TestWriteReadBack(t *testing.T) {
	ctx := context.Background()
	for _, gz := range []bool{false, true} {
		t.Run("gzip="+strconv.FormatBool(gz), func(t *testing.T) {
			dir := t.TempDir()
			tg := newTarget(t, dir, Options{Gzip: gz})
			names := tg.Names()
			revs := map[string]string{}
			var base *target.Snapshot
			for _, step := range []struct {
				name string
				objs []target.Object
				same string // the step whose revision this one must equal; else a new one
			}{
				{name: "first", objs: objects(names, "v1")},
				{name: "changed", objs: objects(names, "v2")},
				{name: "unchanged", objs: objects(names, "v2"), same: "changed"},
				{name: "jwks only", objs: objects(names, "v3")[:1]},
				{name: "delete discovery", objs: []target.Object{{Name: names.Discovery, Delete: true}}},
				{name: "delete it again", objs: []target.Object{{Name: names.Discovery, Delete: true}}, same: "delete discovery"},
				{name: "nothing", same: "delete it again"},
			} {
				before := onDisk(t, dir)
				if err := tg.Write(ctx, base, step.objs); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				wantFiles := maps.Clone(before)
				for _, o := range step.objs {
					if o.Delete {
						delete(wantFiles, o.Name)
					} else {
						wantFiles[o.Name] = string(o.Body)
					}
				}
				checkDisk(t, dir, wantFiles)
				s, err := tg.Read(ctx)
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				if !maps.Equal(bodies(s), wantFiles) || s.Attributes || s.Names != names {
					t.Errorf("%s: read back %v, attributes %v, names %+v; want %v", step.name, bodies(s), s.Attributes, s.Names, wantFiles)
				}
				for n, o := range s.Objects {
					if o.Name != n {
						t.Errorf("%s: object %q has name %q", step.name, n, o.Name)
					}
				}
				if len(s.Revision) != 64 {
					t.Errorf("%s: revision %q", step.name, s.Revision)
				}
				if step.same != "" {
					if s.Revision != revs[step.same] {
						t.Errorf("%s: revision %s, want %s's %s", step.name, s.Revision, step.same, revs[step.same])
					}
				} else {
					for other, r := range revs {
						if r == s.Revision {
							t.Errorf("%s: revision %s is %s's", step.name, r, other)
						}
					}
				}
				revs[step.name] = s.Revision
				base = s
			}
		})
	}
}

func TestConflict(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		first bool // both start from nothing
	}{{"stale base", false}, {"stale empty base", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := newTarget(t, dir, Options{Gzip: true}), newTarget(t, dir, Options{Gzip: true})
			if !tc.first {
				if err := a.Write(ctx, nil, objects(a.Names(), "v1")); err != nil {
					t.Fatal(err)
				}
			}
			sa, err := a.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			winner := objects(b.Names(), "b")
			if err := b.Write(ctx, sb, winner); err != nil {
				t.Fatal(err)
			}
			var points []string
			a.onWrite = func(p string) { points = append(points, p) }
			err = a.Write(ctx, sa, objects(a.Names(), "a"))
			if !errors.Is(err, target.ErrConflict) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("err = %v, want ErrConflict naming %s", err, dir)
			}
			if len(points) != 0 {
				t.Errorf("the losing write reached %v", points)
			}
			checkDisk(t, dir, want(winner))
		})
	}
}

// TestFirstCreationRace: two publishers both find nothing and write at once; exactly one
// wins, and the directory holds its publication alone.
func TestFirstCreationRace(t *testing.T) {
	ctx := context.Background()
	for i := range 20 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		pubs := make([][]target.Object, 2)
		for j := range 2 {
			tg := newTarget(t, dir, Options{Gzip: true})
			s, err := tg.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pubs[j] = objects(tg.Names(), fmt.Sprintf("publisher %d", j))
			wg.Go(func() {
				<-start
				errs[j] = tg.Write(ctx, s, pubs[j])
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for j, err := range errs {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("round %d: both publishers succeeded", i)
				}
				won = j
			case !errors.Is(err, target.ErrConflict):
				t.Fatalf("round %d: publisher %d: %v", i, j, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither publisher succeeded: %v", i, errs)
		}
		checkDisk(t, dir, want(pubs[won]))
	}
}

// TestNoLostUpdate: publishers that each read, add their marker and write, retrying on
// conflict, all end up in the document.
func TestNoLostUpdate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	conflicts := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		tg := newTarget(t, dir, Options{})
		wg.Go(func() {
			for {
				s, err := tg.Read(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				var body []byte
				if o := s.Object(jwks); o != nil {
					body = bytes.Clone(o.Body)
				}
				body = fmt.Appendf(body, "marker %d\n", i)
				err = tg.Write(ctx, s, []target.Object{
					{Name: jwks, Body: body},
					{Name: jwks + target.StateSuffix, Body: fmt.Appendf(nil, "last %d\n", i)},
				})
				if errors.Is(err, target.ErrConflict) {
					conflicts[i]++
					continue
				}
				errs[i] = err
				return
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, jwks))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if c := bytes.Count(got, fmt.Appendf(nil, "marker %d\n", i)); c != 1 {
			t.Errorf("marker %d is in the document %d times:\n%s", i, c, got)
		}
	}
	if lines := bytes.Count(got, []byte("\n")); lines != n {
		t.Errorf("the document has %d lines, want %d:\n%s", lines, n, got)
	}
	t.Logf("conflicts retried per publisher: %v", conflicts)
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		umask int
		mode  fs.FileMode
		want  fs.FileMode
	}{
		{0o077, 0, 0o644},
		{0o000, 0, 0o644},
		{0o022, 0, 0o644},
		{0o077, 0o640, 0o640},
		{0o000, 0o640, 0o640},
		{0o000, 0o600, 0o600},
		{0o777, 0o755, 0o755},
	} {
		t.Run(fmt.Sprintf("umask %03o mode %03o", tc.umask, tc.mode), func(t *testing.T) {
			dir := t.TempDir()
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			tg := newTarget(t, dir, Options{Mode: tc.mode, Gzip: true})
			// Twice: the files are made, then replaced.
			for _, tag := range []string{"v1", "v2"} {
				s, err := tg.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := tg.Write(ctx, s, objects(tg.Names(), tag)); err != nil {
					t.Fatal(err)
				}
				for _, n := range tg.Names().All() {
					fi, err := os.Lstat(filepath.Join(dir, n))
					if err != nil {
						t.Fatal(err)
					}
					if fi.Mode() != tc.want {
						t.Errorf("%s after %s: mode %v, want %v", n, tag, fi.Mode(), tc.want)
					}
				}
			}
		})
	}
	for _, m := range []fs.FileMode{0o1644, 0o044, fs.ModeSetuid | 0o644} {
		if _, err := New(t.TempDir(), jwks, Options{Mode: m}); err == nil {
			t.Errorf("New with mode %v: no error", m)
		}
	}
}

// TestNotRegular: what is not a regular file at a name is refused by Read and Write, promptly
// (a FIFO does not block), naming it; nothing is written and what a link points at is intact.
func TestNotRegular(t *testing.T) {
	ctx := context.Background()
	names := target.NamesFor(jwks, true)
	for _, tc := range []struct {
		name, at string
		make     func(t *testing.T, p, outside string)
		want     string
	}{
		{"link out at the JWKS", names.JWKS, link, "is a symbolic link, not a regular file (fix:"},
		{"link out at the state", names.State, link, "is a symbolic link, not a regular file (fix:"},
		{"link out at the .gz", names.Gzip, link, "is a symbolic link"},
		{"dangling link", names.Discovery, func(t *testing.T, p, _ string) {
			if err := os.Symlink("/nonexistent/jwkspub", p); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"link to a directory", names.JWKS, func(t *testing.T, p, _ string) {
			if err := os.Symlink(t.TempDir(), p); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"FIFO at the JWKS", names.JWKS, func(t *testing.T, p, _ string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO), not a regular file (fix: remove it"},
		{"FIFO at the state", names.State, func(t *testing.T, p, _ string) {
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO)"},
		{"socket at the discovery", names.Discovery, func(t *testing.T, p, _ string) {
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Skipf("no unix socket here: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}, "is a socket, not a regular file"},
		{"directory at the .gz", names.Gzip, func(t *testing.T, p, _ string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, "is a directory, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			outside := filepath.Join(t.TempDir(), "precious")
			if err := os.WriteFile(outside, []byte("precious\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, tc.at)
			tc.make(t, p, outside)
			before := onDisk(t, dir)
			fi0, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			tg := newTarget(t, dir, Options{Gzip: true})
			check := func(op string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), p+" "+tc.want) {
					t.Errorf("%s: err = %v, want %q", op, err, p+" "+tc.want)
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := tg.Read(ctx)
				done <- err
			}()
			select {
			case err := <-done:
				check("Read", err)
			case <-time.After(20 * time.Second):
				if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatal("Read blocked")
			}
			check("Write", tg.Write(ctx, nil, objects(names, "new")))
			checkDisk(t, dir, before)
			if fi, err := os.Lstat(p); err != nil || fi.Mode() != fi0.Mode() {
				t.Errorf("%s was changed: %v %v", p, fi, err)
			}
			if b, err := os.ReadFile(outside); err != nil || string(b) != "precious\n" {
				t.Errorf("the file the link points at: %q %v", b, err)
			}
		})
	}
}

// link makes p a symbolic link to outside.
func link(t *testing.T, p, outside string) {
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
}

func TestReadTooLarge(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, jwks)
	if err := os.WriteFile(p, make([]byte, target.MaxObjectSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newTarget(t, dir, Options{}).Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), p+" is 4194305 bytes, more than a JWKS can be") {
		t.Errorf("err = %v", err)
	}
}

// TestNames: a name the directory cannot hold, with its temporary file, fails New or Write
// before anything is on disk.
func TestNames(t *testing.T) {
	ctx := context.Background()
	// The longest name whose state object's temporary name fits in NAME_MAX.
	longest := 255 - len(target.StateSuffix) - len(tempName("", ""))
	for _, tc := range []struct {
		name string
		err  string
	}{
		{strings.Repeat("j", 240), "is too long"},
		{strings.Repeat("j", longest+1), "is too long"},
		{strings.Repeat("j", longest), ""},
		{"a/jwks.json", "contains '/'"},
		{"jwks\x00.json", "NUL"},
		{"", "not a file name"},
		{"..", "not a file name"},
	} {
		t.Run(fmt.Sprintf("%.20q", tc.name), func(t *testing.T) {
			dir := t.TempDir()
			tg, err := New(dir, tc.name, Options{Gzip: true})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), dir) {
					t.Errorf("err = %v, want %q naming the directory", err, tc.err)
				}
				checkDisk(t, dir, map[string]string{})
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			objs := objects(tg.Names(), "v1")
			if err := tg.Write(ctx, nil, objs); err != nil {
				t.Fatal(err)
			}
			checkDisk(t, dir, want(objs))
		})
	}
	// Objects with names that are not the set's: refused before the first, valid, object.
	for _, bad := range []string{"a/b", "x\x00y", strings.Repeat("j", 250), "other.json", "jwks.json.gz"} {
		dir := t.TempDir()
		tg := newTarget(t, dir, Options{})
		var points []string
		tg.onWrite = func(p string) { points = append(points, p) }
		err := tg.Write(ctx, nil, []target.Object{{Name: jwks, Body: []byte("{}")}, {Name: bad, Body: []byte("{}")}})
		if err == nil || !strings.Contains(err.Error(), "nothing was written") && !strings.Contains(err.Error(), "object") {
			t.Errorf("object %.20q: err = %v", bad, err)
		}
		if len(points) != 0 {
			t.Errorf("object %.20q: reached %v", bad, points)
		}
		checkDisk(t, dir, map[string]string{})
	}
}

func TestStaleTempFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stale := []string{
		tempName(jwks, "0123456789abcdef"),
		tempName(jwks+target.StateSuffix, "fedcba9876543210"),
		tempName("other-set.json", "00000000000000ff"), // another set's, in the same directory
	}
	foreign := map[string]string{
		".jwks.json.tmp":                      "an editor's\n",
		"notes.txt":                           "notes\n",
		".jwks.json.jwkspub-0123456789ab.tmp": "too short to be ours\n",
	}
	for _, n := range stale {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil { // 0 bytes, as a crash leaves
			t.Fatal(err)
		}
	}
	for n, b := range foreign {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	tg := newTarget(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	s, err := tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Objects) != 0 || len(onDisk(t, dir)) != len(stale)+len(foreign) {
		t.Fatalf("Read saw %v or changed the directory", s.Objects)
	}
	objs := objects(tg.Names(), "v1")
	if err := tg.Write(ctx, s, objs); err != nil {
		t.Fatal(err)
	}
	wantFiles := want(objs)
	maps.Copy(wantFiles, foreign)
	checkDisk(t, dir, wantFiles)
	for _, n := range stale {
		if !strings.Contains(log.String(), "level=INFO msg=\"removed a temporary file a dead run left\" file="+filepath.Join(dir, n)) {
			t.Errorf("no log of removing %s:\n%s", n, log.String())
		}
	}
}

// TestWriteFailsMidway: a rename that fails after another succeeded leaves the renamed object
// whole, the others as they were, and no temporary file.
func TestWriteFailsMidway(t *testing.T) {
	ctx := context.Background()
	for _, old := range []bool{false, true} {
		t.Run("over an old publication="+strconv.FormatBool(old), func(t *testing.T) {
			dir := t.TempDir()
			tg := newTarget(t, dir, Options{Gzip: true})
			names := tg.Names()
			var before map[string]string
			if old {
				if err := tg.Write(ctx, nil, objects(names, "old")); err != nil {
					t.Fatal(err)
				}
			}
			before = onDisk(t, dir)
			s, err := tg.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			gz := filepath.Join(dir, names.Gzip)
			// After the JWKS is renamed, a directory takes the .gz's place: its rename fails.
			tg.onWrite = func(p string) {
				if p == "rename "+jwks {
					_ = os.Remove(gz)
					if err := os.Mkdir(gz, 0o755); err != nil {
						t.Error(err)
					}
				}
			}
			objs := objects(names, "new")
			err = tg.Write(ctx, s, objs)
			if err == nil || !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.EEXIST) && !errors.Is(err, syscall.ENOTEMPTY) ||
				!strings.Contains(err.Error(), "writing "+gz) {
				t.Fatalf("err = %v", err)
			}
			wantFiles := maps.Clone(before)
			wantFiles[jwks] = string(objs[0].Body)
			wantFiles[names.Gzip] = "<d--------->"
			checkDisk(t, dir, wantFiles)
		})
	}
}

// TestWritePoints: OnWrite sees every write point, in order: all temporary files, then each
// rename or delete followed by a directory sync.
func TestWritePoints(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "www", ".well-known")
	var points []string
	tg := newTarget(t, dir, Options{Gzip: true, CreateDir: true, OnWrite: func(p string) { points = append(points, p) }})
	names := tg.Names()
	if err := tg.Write(ctx, nil, objects(names, "v1")); err != nil {
		t.Fatal(err)
	}
	s, err := tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(ctx, s, objects(names, "v2", names.Gzip)); err != nil {
		t.Fatal(err)
	}
	wantPoints := []string{
		"mkdir",
		"temp jwks.json", "temp jwks.json.gz", "temp openid-configuration", "temp jwks.json.state.json",
		"rename jwks.json", "dirsync", "rename jwks.json.gz", "dirsync",
		"rename openid-configuration", "dirsync", "rename jwks.json.state.json", "dirsync",
		// The second write deletes the .gz.
		"temp jwks.json", "temp openid-configuration", "temp jwks.json.state.json",
		"rename jwks.json", "dirsync", "delete jwks.json.gz", "dirsync",
		"rename openid-configuration", "dirsync", "rename jwks.json.state.json", "dirsync",
	}
	if !slices.Equal(points, wantPoints) {
		t.Errorf("points:\n%q\nwant:\n%q", points, wantPoints)
	}
	checkDisk(t, dir, want(objects(names, "v2", names.Gzip)))
}

func TestMissingDirectory(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	dir := filepath.Join(base, "www", ".well-known")
	tg := newTarget(t, dir, Options{})
	err := tg.Write(ctx, nil, objects(tg.Names(), "v1"))
	if err == nil || !strings.Contains(err.Error(), dir+": the directory does not exist (fix: create it") {
		t.Errorf("err = %v", err)
	}
	checkDisk(t, base, map[string]string{})
	// Nothing to write into nothing: the precondition alone.
	if err := tg.Write(ctx, nil, nil); err != nil {
		t.Errorf("no objects: %v", err)
	}
	if err := tg.Write(ctx, &target.Snapshot{Revision: "x"}, nil); !errors.Is(err, target.ErrConflict) {
		t.Errorf("no objects, a base that is gone: %v", err)
	}
	checkDisk(t, base, map[string]string{})

	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	tg = newTarget(t, dir, Options{CreateDir: true})
	objs := objects(tg.Names(), "v1")
	if err := tg.Write(ctx, nil, objs); err != nil {
		t.Fatal(err)
	}
	checkDisk(t, dir, want(objs))
	for _, d := range []string{filepath.Join(base, "www"), dir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode() != fs.ModeDir|0o755 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}
}

// TestLockHonoursContext: a publisher waiting for another's lock gives up when its context
// ends, having written nothing; and a reader never sees a publication half done.
func TestLockHonoursContext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg := newTarget(t, dir, Options{Gzip: true})
	names := tg.Names()
	if err := tg.Write(ctx, nil, objects(names, "v1")); err != nil {
		t.Fatal(err)
	}
	before := onDisk(t, dir)

	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	s, err := func() (*target.Snapshot, error) {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		return tg.Read(c)
	}()
	if !errors.Is(err, context.DeadlineExceeded) || s != nil {
		t.Errorf("Read under another's exclusive lock: %v", err)
	}
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = tg.Write(c, nil, objects(names, "v2"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for another publisher's lock") {
		t.Errorf("Write under another's lock: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("the cancelled Write took %v", d)
	}
	checkDisk(t, dir, before)
	unix.Close(fd)

	// During a write, a reader waits (here: gives up) rather than see a mix.
	s, err = tg.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var readErr error
	tg.onWrite = func(p string) {
		if p == "rename "+jwks {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, readErr = newTarget(t, dir, Options{Gzip: true}).Read(c)
		}
	}
	if err := tg.Write(ctx, s, objects(names, "v2")); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(readErr, context.DeadlineExceeded) {
		t.Errorf("a Read during a Write: %v, want it to wait", readErr)
	}
}

// The crash harness: TestCrash runs this test binary again as TestHelperProcess, which
// publishes and SIGKILLs itself at one write point.
const (
	helperEnv = "JWKSPUB_FILE_TEST_HELPER" // what the helper does: crash or fsize
	dirEnv    = "JWKSPUB_FILE_TEST_DIR"
	pointEnv  = "JWKSPUB_FILE_TEST_POINT"
)

// TestHelperProcess is not a test: it is the process TestCrash and TestNoSpace start.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("started by TestCrash")
	}
	dir := os.Getenv(dirEnv)
	kill, _ := strconv.Atoi(os.Getenv(pointEnv))
	n := 0
	o := Options{Gzip: true, OnWrite: func(p string) {
		if mode == "crash" && n == kill {
			fmt.Fprintf(os.Stderr, "killed at %q\n", p)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		n++
	}}
	if mode == "fsize" {
		// Files may grow to 100 bytes: the state's temporary file cannot be written. (Go
		// ignores SIGXFSZ, so the write fails with EFBIG.)
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 100, Max: 100}); err != nil {
			t.Fatal(err)
		}
	}
	tg, err := New(dir, jwks, o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tg.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Write(context.Background(), s, crashNew(tg.Names())); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
}

// crashOld and crashNew are the publications before and after the crash test's write: the
// new one changes the JWKS, the discovery document and the state and deletes the .gz.
func crashOld(n target.Names) []target.Object { return objects(n, "old") }

func crashNew(n target.Names) []target.Object {
	objs := objects(n, "new", n.Gzip)
	objs[len(objs)-1].Body = append(bytes.Repeat([]byte(" "), 200), objs[len(objs)-1].Body...)
	return objs
}

func helper(t *testing.T, mode, dir string, point int) (*exec.Cmd, []byte, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, dirEnv+"="+dir, pointEnv+"="+strconv.Itoa(point))
	out, err := cmd.CombinedOutput()
	return cmd, out, err
}

// TestCrash kills a publisher at every write point. Each time the directory must read back,
// each object be the old or the new version whole (the state never newer than the JWKS), and
// a fresh Read then Write succeed and leave exactly the new publication.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per write point")
	}
	ctx := context.Background()
	names := target.NamesFor(jwks, true)
	old, upd := want(crashOld(names)), want(crashNew(names))
	for k := 0; ; k++ {
		dir := t.TempDir()
		tg := newTarget(t, dir, Options{Gzip: true})
		if err := tg.Write(ctx, nil, crashOld(names)); err != nil {
			t.Fatal(err)
		}
		cmd, out, err := helper(t, "crash", dir, k)
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if err == nil {
			// k is past the last write point: the write completed.
			if k < 10 {
				t.Fatalf("only %d write points:\n%s", k, out)
			}
			checkDisk(t, dir, upd)
			t.Logf("killed at each of %d write points", k)
			return
		}
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("point %d: the helper did not die of SIGKILL: %v\n%s", k, err, out)
		}
		s, err := tg.Read(ctx)
		if err != nil {
			t.Fatalf("point %d (%s): Read after the crash: %v", k, strings.TrimSpace(string(out)), err)
		}
		got := bodies(s)
		for _, n := range names.All() {
			g, ok := got[n]
			o, okOld := old[n]
			u, okNew := upd[n]
			if !(ok && okOld && g == o) && !(ok && okNew && g == u) && !(!ok && (!okOld || !okNew)) {
				t.Errorf("point %d (%s): %s is %q (present %v), neither the old nor the new version", k, out, n, g, ok)
			}
		}
		if got[names.State] == upd[names.State] && (got[names.JWKS] != upd[names.JWKS] || got[names.Discovery] != upd[names.Discovery]) {
			t.Errorf("point %d (%s): the state is new but the documents are not: %v", k, out, got)
		}
		if err := tg.Write(ctx, s, crashNew(names)); err != nil {
			t.Fatalf("point %d: the next Write: %v", k, err)
		}
		checkDisk(t, dir, upd)
	}
}

// TestNoSpace: a temporary file that cannot be written (a file size limit stands in for a
// full disk) fails the write before anything served changed.
func TestNoSpace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	names := target.NamesFor(jwks, true)
	if err := newTarget(t, dir, Options{Gzip: true}).Write(ctx, nil, crashOld(names)); err != nil {
		t.Fatal(err)
	}
	_, out, err := helper(t, "fsize", dir, 0)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	p := filepath.Join(dir, names.State)
	if !strings.Contains(string(out), "writing "+p+": writing .jwks.json.state.json.jwkspub-") || !strings.Contains(string(out), "file too large") {
		t.Errorf("error: %s", out)
	}
	checkDisk(t, dir, want(crashOld(names)))
}

// TestCancel: a cancellation while temporary files are written abandons the write with
// nothing replaced; once renaming has begun the publication completes rather than stop half
// done on purpose.
func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		at       string
		complete bool
	}{
		{"temp " + jwks, false},
		{"temp openid-configuration", false},
		{"rename " + jwks, true},
		{"dirsync", true},
	} {
		t.Run(tc.at, func(t *testing.T) {
			dir := t.TempDir()
			tg := newTarget(t, dir, Options{Gzip: true})
			names := tg.Names()
			if err := tg.Write(context.Background(), nil, objects(names, "old")); err != nil {
				t.Fatal(err)
			}
			s, err := tg.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tg.onWrite = func(p string) {
				if p == tc.at {
					cancel()
				}
			}
			err = tg.Write(ctx, s, objects(names, "new"))
			if tc.complete {
				if err != nil {
					t.Fatal(err)
				}
				checkDisk(t, dir, want(objects(names, "new")))
				return
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was replaced") {
				t.Errorf("err = %v", err)
			}
			checkDisk(t, dir, want(objects(names, "old")))
		})
	}
}

// BenchmarkWrite is one publication of the four objects, a 16 KiB JWKS, on the file system
// of the test's temporary directory, with its fsyncs.
func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	tg, err := New(dir, jwks, Options{Gzip: true})
	if err != nil {
		b.Fatal(err)
	}
	objs := objects(tg.Names(), "v")
	objs[0].Body = bytes.Repeat([]byte("k"), 16<<10)
	for i := 0; b.Loop(); i++ {
		s, err := tg.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		objs[3].Body = strconv.AppendInt(nil, int64(i), 10)
		if err := tg.Write(ctx, s, objs); err != nil {
			b.Fatal(err)
		}
	}
}
