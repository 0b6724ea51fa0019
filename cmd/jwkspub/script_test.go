package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the jwkspub command inside scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"jwkspub": func() {
			os.Exit(run(context.Background(), os.Args, env{stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv}))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: each reads like a user's session.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": cmdExits, "mode": cmdMode, "nosecret": cmdNoSecret},
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir)
			return nil
		},
	})
}

// cmdExits runs a program and checks its exact exit code: "exits 3 jwkspub build ...".
// testscript's "! exec" only knows zero and non-zero, and the contract's codes differ.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}
