package vault

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// FuzzParseKVSpec: the vault-kv spec parser never panics, and what it accepts names a mount,
// a path and a field.
func FuzzParseKVSpec(f *testing.F) {
	for _, s := range []string{"secret/jwt#pem", "kv/a/b?version=3#jwks", "x#", "?version=1#a", "a/b?version=1&version=2#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		path, field, version, err := ParseKVSpec(arg)
		if err != nil {
			return
		}
		if field == "" || !strings.Contains(path, "/") || version < 0 {
			t.Fatalf("ParseKVSpec(%q) accepted %q, %q, %d", arg, path, field, version)
		}
	})
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
