package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecretFrom(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	fallback := filepath.Join(dir, "fallback")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	os.WriteFile(fallback, []byte(" from-fallback "), 0o600)
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name           string
		vars           map[string]string
		file, fallback string
		want           string
		wantErr        bool
	}{
		{"file flag wins over the variable", map[string]string{"S": "from-env"}, file, fallback, "from-file", false},
		{"variable when no file flag", map[string]string{"S": " from-env\n"}, "", fallback, "from-env", false},
		{"fallback file (the pod's token)", nil, "", fallback, "from-fallback", false},
		{"blank variable falls through", map[string]string{"S": "  "}, "", fallback, "from-fallback", false},
		{"nothing anywhere", nil, "", "", "", false},
		{"missing file is an error", nil, filepath.Join(dir, "nope"), "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretFrom(env(tt.vars), "S", tt.file, tt.fallback)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("secretFrom = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
