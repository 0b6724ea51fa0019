package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdMode checks a file's permission bits: "mode FILE 0600".
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil {
		ts.Fatalf("mode: bad permission %q", args[1])
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := st.Mode().Perm(); uint64(got) != want {
		ts.Fatalf("%s has mode %#o, want %#o", args[0], got, want)
	}
}

// cmdNoSecret fails when any body line of a PEM file (a private key) appears in the last
// command's stdout or stderr: "nosecret signing.pem".
func cmdNoSecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: nosecret FILE")
	}
	secret := ts.ReadFile(args[0])
	out := ts.ReadFile("stdout") + ts.ReadFile("stderr")
	lines := 0
	for _, line := range strings.Split(secret, "\n") {
		if strings.HasPrefix(line, "-----") || len(line) < 16 {
			continue
		}
		lines++
		if strings.Contains(out, line) {
			ts.Fatalf("output contains a line of %s", args[0])
		}
	}
	if lines == 0 {
		ts.Fatalf("nosecret: %s has no body lines to look for", args[0])
	}
}
