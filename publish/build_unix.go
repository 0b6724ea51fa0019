//go:build unix

package publish

import (
	"errors"
	"os"
	"syscall"
)

// openDirect opens a device or pipe for writing without waiting. Opening a FIFO for writing
// blocks until a reader opens it, in a system call no context or signal handler can end; with
// O_NONBLOCK it fails at once instead (ENXIO) when nothing reads, and that is refused with
// what to do. A pipe given by the shell (-o /dev/stdout, -o /dev/fd/3) has its reader already
// and is written as before; the descriptor stays non-blocking, so Go's poller waits for a slow
// reader rather than a blocked thread.
func openDirect(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		if st, serr := os.Stat(path); serr == nil && st.Mode()&os.ModeNamedPipe != 0 {
			return nil, errors.New("it is a named pipe (FIFO) that no process is reading: start its reader first, or write to a regular file")
		}
	}
	return f, err
}
