package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// maxFileSize bounds what a file source reads: a JWK Set of ten thousand RSA keys is about 4 MB.
const maxFileSize = 64 << 20

// File reads keys from the files matching a path or glob (filepath.Match syntax), in sorted
// order. A pattern that matches nothing is an error unless Optional is set.
type File struct {
	Pattern  string
	Optional bool
	Opts     Options
	Defaults Defaults
}

func (f *File) String() string { return "file:" + f.Pattern }

// Keys implements Source.
func (f *File) Keys(ctx context.Context) ([]Key, error) {
	origin := Origin{Source: f.String()}
	paths, err := filepath.Glob(f.Pattern)
	if err != nil {
		return nil, &Error{Origin: origin, Err: fmt.Errorf("bad glob pattern: %w", err), Fix: "use filepath.Match syntax (*, ?, [a-z])"}
	}
	if len(paths) == 0 {
		if f.Optional {
			f.Opts.logger().Info("optional source matched no file", "source", f.String())
			return nil, nil
		}
		return nil, &Error{Origin: origin, Err: fmt.Errorf("no file matches %q", f.Pattern), Fix: "check the path, or mark the source optional"}
	}
	sort.Strings(paths)
	var (
		keys []Key
		errs []error
	)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		at := Origin{Source: "file:" + p}
		data, err := readFile(p)
		if err != nil {
			errs = append(errs, &Error{Origin: at, Err: err, Fix: "check the file exists and is readable"})
			continue
		}
		ks, err := Parse(data, at, f.Opts)
		if err != nil {
			errs = append(errs, err)
		}
		keys = append(keys, ks...)
	}
	f.Defaults.apply(keys)
	return keys, errors.Join(errs...)
}

func readFile(p string) ([]byte, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxFileSize)
	}
	return data, nil
}
