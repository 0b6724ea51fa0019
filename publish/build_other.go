//go:build !unix

package publish

import "os"

// openDirect opens a device for writing (see the Unix version for pipes).
func openDirect(path string) (*os.File, error) { return os.OpenFile(path, os.O_WRONLY, 0) }
