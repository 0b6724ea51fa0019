//go:build !unix

package sources

import (
	"io/fs"
	"os"
)

// openFile opens a key file for reading.
func openFile(p string) (keyFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

type osFile struct{ *os.File }

func (f osFile) stat() (fs.FileMode, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return st.Mode(), st.Size(), nil
}
