package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
)

// File reads keys from the files matching a path or glob (filepath.Match syntax), in sorted
// order. A pattern that matches nothing is an error unless Optional is set.
type File struct {
	Pattern string
	// Dir, when set, is where a relative Pattern is matched; the source keeps Pattern as its
	// name (see Spec.Dir).
	Dir      string
	Optional bool
	Opts     Options
	Defaults Defaults
}

func (f *File) String() string { return "file:" + f.Pattern }

// Keys implements Source.
func (f *File) Keys(ctx context.Context) ([]Key, error) {
	origin := Origin{Source: f.String()}
	pattern := f.Pattern
	if f.Dir != "" && !filepath.IsAbs(pattern) {
		pattern = filepath.Join(f.Dir, pattern)
	}
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, &Error{Origin: origin, Err: fmt.Errorf("bad glob pattern: %w", err), Fix: "use filepath.Match syntax (*, ?, [a-z])"}
	}
	if len(paths) == 0 {
		if f.Optional {
			f.Opts.Log().Info("optional source matched no file", "source", f.String())
			return nil, nil
		}
		return nil, &Error{Origin: origin, Err: fmt.Errorf("no file matches %q", pattern), Fix: "check the path, or mark the source optional"}
	}
	sort.Strings(paths)
	keys := make([]Key, 0, len(paths)) // usually one key per file
	var errs problems
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		at := Origin{Source: "file:" + p}
		data, err := readFile(p, f.Opts.budget())
		if err != nil {
			fix := "check the file exists and is readable"
			switch {
			case errors.Is(err, errNotRegular):
				fix = "give a regular file: write the keys to one first, or pass them in an env: source"
			case errors.Is(err, ErrInputBudget):
				fix = fixBudget
			}
			errs.add(&Error{Origin: at, Err: err, Fix: fix})
			continue
		}
		ks, err := Parse(data, at, f.Opts)
		errs.add(err)
		keys = append(keys, ks...)
	}
	f.Defaults.Apply(keys)
	return keys, errs.err()
}

// keyFile is an open key file, as readFile reads it.
type keyFile interface {
	io.ReadCloser
	stat() (fs.FileMode, int64, error) // type and size
}

// errNotRegular is wrapped by the refusal of a path that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// readFile reads a whole key file and charges it to the budget. Only a regular file is read
// (files under /proc are regular too): a FIFO would block until some process opened it for
// writing, deaf to the signal that should end jwkspub, and a device or socket is no key file.
// openFile never waits (O_NONBLOCK on Unix), so the check comes before anything can block.
// On Unix it also avoids the poller registration os.Open attempts for every file (five wasted
// system calls per file, a quarter of the system time of a ten-thousand-file build).
func readFile(p string, budget *Budget) ([]byte, error) {
	fh, err := openFile(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	mode, fsize, err := fh.stat()
	if err != nil {
		return nil, err
	}
	if err := regular(p, mode); err != nil {
		return nil, err
	}
	left := budget.left()
	if fsize > left {
		return nil, budget.take(fsize)
	}
	// Size the buffer from the file: one read fills it, a second sees the end.
	size := min(max(fsize, 0), left) + 1
	data := make([]byte, 0, size+512)
	for {
		n, err := fh.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if int64(len(data)) > left {
			break // the file grew (or is a /proc file, of size 0): the charge below refuses it
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // the file grew: make room
		}
	}
	if err := budget.take(int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

// regular refuses a path that is not a regular file, saying what it is.
func regular(p string, m fs.FileMode) error {
	what := "not a regular file (" + m.Type().String() + ")"
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%s is a directory", p)
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO): reading it would wait for a writer"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%w: %s is %s", errNotRegular, p, what)
}
