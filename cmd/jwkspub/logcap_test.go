package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/sources"
)

// TestLogRepeatsBounded: a message logged a hundred thousand times (one per key) shows twenty
// times, then one line at the end of the run counts the rest; other messages are untouched.
func TestLogRepeatsBounded(t *testing.T) {
	var buf bytes.Buffer
	var atExit []func(context.Context)
	log, err := newLogger(&buf, "text", "info", &atExit)
	if err != nil {
		t.Fatal(err)
	}
	derived := log.With("set", "prod") // derived loggers share the count
	for i := range 100_000 {
		derived.Info("derived public key from private JWK; private members discarded", "origin", i)
	}
	log.Warn("once")
	for _, f := range atExit {
		f(context.Background())
	}
	out := buf.String()
	if n := strings.Count(out, "msg=\"derived public key"); n != sources.ListLimit {
		t.Errorf("%d repeats shown, want %d", n, sources.ListLimit)
	}
	if !strings.Contains(out, `level=INFO msg="… and 99,980 more: derived public key from private JWK; private members discarded"`) || !strings.Contains(out, "msg=once") {
		t.Errorf("log:\n%s", out[max(0, len(out)-600):])
	}
	if lines := strings.Count(out, "\n"); lines != sources.ListLimit+2 {
		t.Errorf("%d lines", lines)
	}
	if _, err := newLogger(&buf, "text", "info", nil); err != nil { // verify's logger before run sets atExit
		t.Error(err)
	}
}
