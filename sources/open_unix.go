//go:build unix

package sources

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// openFile opens a key file for reading without ever waiting: O_NONBLOCK makes opening a FIFO
// return at once instead of blocking until a writer comes (readFile then refuses it), and
// changes nothing for a regular file. The descriptor is read directly rather than through an
// *os.File: os.NewFile would ask for its flags and, as the descriptor is non-blocking, try to
// register it with the runtime poller and fail, two wasted system calls per file when a glob
// matches ten thousand key files (open, fstat, two reads and close are all it takes).
func openFile(p string) (keyFile, error) {
	for {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return rawFile{fd: fd, name: p}, nil
	}
}

// rawFile is an open descriptor of a file that readFile reads only once it is known regular.
type rawFile struct {
	fd   int
	name string
}

func (f rawFile) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(f.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f rawFile) Close() error { return syscall.Close(f.fd) }

// stat returns the file's type and size.
func (f rawFile) stat() (fs.FileMode, int64, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(f.fd, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, &os.PathError{Op: "stat", Path: f.name, Err: err}
		}
		break
	}
	var m fs.FileMode
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		m = fs.ModeDir
	case syscall.S_IFIFO:
		m = fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m = fs.ModeSocket
	case syscall.S_IFCHR:
		m = fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m = fs.ModeDevice
	case syscall.S_IFLNK: // not after open, which follows links; kept for completeness
		m = fs.ModeSymlink
	default:
		m = fs.ModeIrregular
	}
	return m, st.Size, nil
}
