package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestVerifyExpect runs `verify --url --expect` against a server standing in for a CDN that
// serves the document publish wrote, a stale one, or the new one only after a few requests.
func TestVerifyExpect(t *testing.T) {
	dir := t.TempDir()
	keys, err := filepath.Abs("../../examples/keys")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "jwkspub.yaml")
	writeFile(t, cfg, `sets:
  - name: prod
    sources: [file:`+keys+`/*.pub.pem]
    output: {cache_control: "public, max-age=60"}
    targets: [file://`+dir+`/out/jwks.json]
`)
	cfgOld := filepath.Join(dir, "old.yaml")
	writeFile(t, cfgOld, `sets:
  - name: prod
    sources: [file:`+keys+`/ed25519.pub.pem]
    targets: [file://`+dir+`/old/jwks.json]
`)
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"jwkspub"}, args...), env{stdout: &out, stderr: &errb, lookup: func(string) (string, bool) { return "", false }})
		return code, out.String(), errb.String()
	}
	// The document publish writes for each configuration: build gives the same bytes.
	if code, _, stderr := cli("build", "--config", cfg, "-o", filepath.Join(dir, "new.json")); code != 0 {
		t.Fatalf("build: %d %s", code, stderr)
	}
	if code, _, stderr := cli("build", "--config", cfgOld, "-o", filepath.Join(dir, "old.json")); code != 0 {
		t.Fatalf("build: %d %s", code, stderr)
	}
	newDoc, _ := os.ReadFile(filepath.Join(dir, "new.json"))
	oldDoc, _ := os.ReadFile(filepath.Join(dir, "old.json"))

	var requests atomic.Int32
	var mode atomic.Value // "new", "old", "late", "headers"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		body, cc := newDoc, "public, max-age=60"
		switch mode.Load() {
		case "old":
			body = oldDoc
		case "late":
			if n < 3 {
				body = oldDoc
			}
		case "headers":
			cc = "no-store"
		}
		w.Header().Set("Cache-Control", cc)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	url := srv.URL + "/.well-known/jwks.json"

	tests := []struct {
		name     string
		mode     string
		args     []string
		code     int
		stdout   string
		requests int32
	}{
		{name: "serves what the sources give", mode: "new", args: []string{"--url", url, "--expect"}, code: 0, stdout: "3 key(s) pass", requests: 1},
		{name: "stale document is drift", mode: "old", args: []string{"--url", url, "--expect"}, code: exitChanges, stdout: "missing kids", requests: 1},
		{name: "stale headers are drift", mode: "headers", args: []string{"--url", url, "--expect"}, code: exitChanges, stdout: `Cache-Control is "no-store", want "public, max-age=60"`, requests: 1},
		{name: "waits for the CDN", mode: "late", args: []string{"--url", url, "--expect", "--wait", "30s", "--interval", "10ms"}, code: 0, stdout: "3 key(s) pass", requests: 3},
		{name: "the wait is bounded", mode: "old", args: []string{"--url", url, "--expect", "--wait", "50ms", "--interval", "10ms"}, code: exitChanges, stdout: "missing kids"},
		{name: "json drift report", mode: "old", args: []string{"--url", url, "--expect", "--format", "json"}, code: exitChanges, stdout: `"missing_kids"`},
		{name: "--expect needs --url", mode: "new", args: []string{"--file", filepath.Join(dir, "new.json"), "--expect"}, code: exitUsage},
		{name: "--wait needs --expect", mode: "new", args: []string{"--url", url, "--wait", "1s"}, code: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode.Store(tt.mode)
			requests.Store(0)
			code, stdout, stderr := cli(append([]string{"verify", "--config", cfg}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if tt.requests != 0 && requests.Load() != tt.requests {
				t.Errorf("%d requests, want %d", requests.Load(), tt.requests)
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
