//go:build !crashtest

package main

// crashHook is nil in release builds: the crash harness exists only in binaries built with
// -tags crashtest (see crash_on.go).
func crashHook(func(string) (string, bool)) func(string) { return nil }
