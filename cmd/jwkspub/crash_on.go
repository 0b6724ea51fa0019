//go:build crashtest

package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// crashHook, in binaries built with -tags crashtest only, lets the crash tests kill the
// process for real at a chosen write point of a target: JWKSPUB_CRASH_AT=N sends SIGKILL to
// itself at the Nth write point (counting from 1); JWKSPUB_CRASH_LOG=FILE appends each point
// reached, so a test first learns how many points a publication has.
func crashHook(lookup func(string) (string, bool)) func(string) {
	at := 0
	if v, ok := lookup("JWKSPUB_CRASH_AT"); ok {
		at, _ = strconv.Atoi(v)
	}
	logPath, _ := lookup("JWKSPUB_CRASH_LOG")
	if at <= 0 && logPath == "" {
		return nil
	}
	var n atomic.Int64
	return func(point string) {
		i := n.Add(1)
		if logPath != "" {
			if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(f, "%d %s\n", i, point)
				f.Close()
			}
		}
		if int(i) == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
