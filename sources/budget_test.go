package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBudgetAcrossSources: one budget spans every source sharing it, whatever their kind, and
// the source that would pass it is refused with its origin and a fix.
func TestBudgetAcrossSources(t *testing.T) {
	k := newTestKeys(t)
	// Padded past BytesPerKey, so that the byte count, not the key count, is what runs out.
	pub := pkixPEM(t, &k.p256.PublicKey) + strings.Repeat("\n", BytesPerKey)
	dir := t.TempDir()
	file := filepath.Join(dir, "k.pem")
	if err := os.WriteFile(file, []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := lookupFrom(map[string]string{"K": pub, "JWT_PUBLIC_KEY": pub})
	size := int64(len(pub))
	tests := []struct {
		name   string
		limit  int64
		wantOK int // sources read before the budget refuses one
	}{
		{"room for all three", 3 * size, 3},
		{"room for two", 3*size - 1, 2},
		{"room for one", 2*size - 1, 1},
		{"room for none", size - 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Lookup: lookup, Budget: NewBudget(tt.limit)}
			var srcs []Source
			for _, spec := range []string{"file:" + file, "env:K", "env-prefix:JWT_"} {
				s, err := New(Spec{Spec: spec}, opts)
				if err != nil {
					t.Fatal(err)
				}
				srcs = append(srcs, s)
			}
			for i, s := range srcs {
				_, err := s.Keys(context.Background())
				if i < tt.wantOK {
					if err != nil {
						t.Fatalf("%s: %v", s, err)
					}
					continue
				}
				var se *Error
				if !errors.Is(err, ErrInputBudget) || !errors.As(err, &se) || se.Fix != fixBudget || !strings.Contains(err.Error(), "input budget of") {
					t.Fatalf("%s: err = %v, want a budget refusal", s, err)
				}
				break
			}
			if used := opts.Budget.Used(); used != int64(tt.wantOK)*size {
				t.Errorf("used %d, want %d", used, int64(tt.wantOK)*size)
			}
		})
	}
}

// TestBudgetKeys: every key counts BytesPerKey against the budget, so a set of tiny keys stops
// being read once they would take more memory than the budget allows.
func TestBudgetKeys(t *testing.T) {
	const ed = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	for _, tt := range []struct {
		name  string
		data  string
		parse func([]byte, Origin, Options) ([]Key, error)
	}{
		{"jwk set", `{"keys":[` + strings.Repeat(ed+",", 9) + ed + `]}`, ParseJWK},
		{"pem", strings.Repeat("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n", 10), Parse},
		{"openssh", strings.Repeat("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea\n", 10), Parse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := tt.parse([]byte(tt.data), Origin{Source: "x"}, Options{Budget: NewBudget(4 * BytesPerKey)})
			if len(keys) != 4 || !errors.Is(err, ErrInputBudget) || !strings.Contains(err.Error(), "more than 4 keys: the input budget of 4096 bytes (4.0 KiB) allows one key per 1024 bytes") {
				t.Fatalf("%d keys, err %v", len(keys), err)
			}
			if keys, err := tt.parse([]byte(tt.data), Origin{Source: "x"}, Options{Budget: NewBudget(10 * BytesPerKey)}); len(keys) != 10 || err != nil {
				t.Fatalf("with room for ten: %d keys, %v", len(keys), err)
			}
		})
	}
}

func TestByteCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1024 bytes (1.0 KiB)",
		64 << 20: "67108864 bytes (64.0 MiB)", 3 << 30: "3221225472 bytes (3.0 GiB)",
	} {
		if got := byteCount(n); got != want {
			t.Errorf("byteCount(%d) = %q, want %q", n, got, want)
		}
	}
}
