package main

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jwkspub/jwkspub/internal/schematest"
)

// TestMain lets the test binary act as the jwkspub command inside scripts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"jwkspub": func() {
			os.Exit(runProcess(os.Args, env{stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv, now: testClock()}))
		},
	})
}

// testClock lets scripts fix the clock with JWKSPUB_TEST_NOW (RFC 3339), so rotation timing
// is testable without waiting. Only the test binary reads it; jwkspub itself has no such knob.
func testClock() func() time.Time {
	v := os.Getenv("JWKSPUB_TEST_NOW")
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic("JWKSPUB_TEST_NOW: " + err.Error())
	}
	return func() time.Time { return t }
}

// TestScripts runs the CLI scripts in testdata/script: each reads like a user's session.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": cmdExits, "mode": cmdMode, "nosecret": cmdNoSecret, "expandenv": cmdExpandEnv, "servejwks": cmdServeJWKS, "mkfifo": cmdMkfifo, "jsonschema": cmdJSONSchema},
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

// cmdExpandEnv replaces $VAR and ${VAR} in a file with the script's environment: "expandenv
// jwkspub.yaml" puts $WORK into target URLs, which must be absolute.
func cmdExpandEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expandenv FILE")
	}
	data := ts.ReadFile(args[0])
	out := os.Expand(data, ts.Getenv)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(out), 0o644))
}

// cmdServeJWKS serves a file of the script's work directory over TLS on loopback, for
// diff --against and verify --url: "servejwks served.json" sets $JWKS_URL, and $SSL_CERT_FILE to the server's
// certificate so the jwkspub subprocess trusts it. The file is read per request, so the
// script can change what is served.
func cmdServeJWKS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: servejwks FILE")
	}
	file := ts.MkAbs(args[0])
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(file)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		// FILE.cors, when present, is the Access-Control-Allow-Origin answered to an Origin.
		if allow, err := os.ReadFile(file + ".cors"); err == nil && r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", strings.TrimSpace(string(allow)))
		}
		w.Header().Set("Cache-Control", "public, max-age=900")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	}))
	ts.Defer(srv.Close)
	ca := ts.MkAbs("servejwks-ca.pem")
	ts.Check(os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
	ts.Setenv("SSL_CERT_FILE", ca)
	ts.Setenv("JWKS_URL", srv.URL+"/.well-known/jwks.json")
}

// cmdJSONSchema checks a file, a command's saved output, against the checked-in schema of
// its JSON: "jsonschema diff out.json". "! jsonschema" expects it to fail.
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonschema SCHEMA FILE")
	}
	err := schematest.Validate(args[0], []byte(ts.ReadFile(args[1])))
	switch {
	case err != nil && !neg:
		ts.Fatalf("%s does not match the %s schema: %v", args[1], args[0], err)
	case err == nil && neg:
		ts.Fatalf("%s matches the %s schema", args[1], args[0])
	}
}
