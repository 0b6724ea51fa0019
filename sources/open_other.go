//go:build !unix

package sources

import "os"

// openFile opens a file for reading.
func openFile(p string) (*os.File, error) { return os.Open(p) }
