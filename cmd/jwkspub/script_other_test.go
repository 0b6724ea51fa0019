//go:build !unix

package main

import "github.com/rogpeppe/go-internal/testscript"

// cmdMkfifo: no named pipes here; scripts that use it skip first with [!unix].
func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("mkfifo: no named pipes on this system")
}
