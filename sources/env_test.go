package sources

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvValueForms(t *testing.T) {
	k := newTestKeys(t)
	pub := pkixPEM(t, &k.p256.PublicKey)
	escaped := strings.ReplaceAll(strings.TrimSpace(pub), "\n", `\n`)
	tests := []struct {
		name, value string
	}{
		{"raw pem", pub},
		{"dotenv escapes", escaped},
		{"dotenv escapes quoted crlf", strings.ReplaceAll(strings.TrimSpace(pub), "\n", `\r\n`)},
		{"base64 of pem", base64.StdEncoding.EncodeToString([]byte(pub))},
		{"base64 of pem wrapped", wrap(base64.StdEncoding.EncodeToString([]byte(pub)), 76)},
		{"jwk", `{"kty":"EC","crv":"P-256","x":"` + b64u(t, k.p256, "x") + `","y":"` + b64u(t, k.p256, "y") + `"}`},
		{"jwks", `{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64u(t, k.p256, "x") + `","y":"` + b64u(t, k.p256, "y") + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &Env{Var: "K", Opts: Options{Lookup: lookupFrom(map[string]string{"K": tt.value})}}
			keys, err := src.Keys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Kty != "EC" || keys[0].Crv != "P-256" {
				t.Fatalf("got %+v", keys)
			}
			if !strings.HasPrefix(keys[0].Origin.String(), "env:K") {
				t.Errorf("origin %q", keys[0].Origin)
			}
		})
	}
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s
}

func TestEnvUnsetAndOptional(t *testing.T) {
	src := &Env{Var: "MISSING", Opts: Options{Lookup: lookupFrom(nil)}}
	if _, err := src.Keys(context.Background()); err == nil || !strings.Contains(err.Error(), "env:MISSING: MISSING is not set") {
		t.Fatalf("err = %v", err)
	}
	src.Optional = true
	if keys, err := src.Keys(context.Background()); err != nil || len(keys) != 0 {
		t.Fatalf("optional: %v %v", keys, err)
	}
	// No lookup function at all means nothing is set: libraries never read os.Getenv.
	if _, err := (&Env{Var: "HOME"}).Keys(context.Background()); err == nil {
		t.Fatal("Env read the process environment without a lookup function")
	}
}

func TestEnvPrefix(t *testing.T) {
	k := newTestKeys(t)
	cur, prev, next := pkixPEM(t, &k.rsa.PublicKey), pkixPEM(t, &k.p256.PublicKey), pkixPEM(t, k.ed.Public())
	priv := pkcs8PEM(t, k.p384)
	tests := []struct {
		name    string
		env     map[string]string
		derive  bool
		wantErr string
		want    map[string]string // role → kid ("" = none given)
	}{
		{"current only", map[string]string{"JWT_PUBLIC_KEY": cur}, false, "", map[string]string{"current": ""}},
		{"all three with kids", map[string]string{
			"JWT_PUBLIC_KEY": cur, "JWT_KEY_ID": "k2",
			"JWT_PREVIOUS_PUBLIC_KEY": prev, "JWT_PREVIOUS_KEY_ID": "k1",
			"JWT_NEXT_PUBLIC_KEY": next, "JWT_NEXT_KEY_ID": "k3",
		}, false, "", map[string]string{"current": "k2", "previous": "k1", "next": "k3"}},
		{"public key wins over private", map[string]string{"JWT_PUBLIC_KEY": cur, "JWT_PRIVATE_KEY": priv}, false, "", map[string]string{"current": ""}},
		{"private only is refused", map[string]string{"JWT_PRIVATE_KEY": priv}, false, "only JWT_PRIVATE_KEY is set, not JWT_PUBLIC_KEY", nil},
		{"private only derived", map[string]string{"JWT_PRIVATE_KEY": strings.ReplaceAll(priv, "\n", `\n`), "JWT_KEY_ID": "d1"}, true, "", map[string]string{"current": "d1"}},
		{"nothing set", map[string]string{}, false, "none of JWT_PUBLIC_KEY", nil},
		{"kid for two keys", map[string]string{"JWT_PUBLIC_KEY": cur + prev, "JWT_KEY_ID": "x"}, false, "JWT_KEY_ID names one kid but the value holds 2 keys", nil},
		{"kid disagrees with jwk", map[string]string{"JWT_PUBLIC_KEY": `{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`, "JWT_KEY_ID": "b"}, false, `disagrees with the JWK's kid "a"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &EnvPrefix{Prefix: "JWT_", Opts: Options{Lookup: lookupFrom(tt.env), DerivePublic: tt.derive}}
			keys, err := src.Keys(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "PRIVATE") && !errors.Is(err, ErrPrivateKey) {
					t.Errorf("private refusal does not wrap ErrPrivateKey")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, k := range keys {
				got[k.Name] = k.KID
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for role, kid := range tt.want {
				if g, ok := got[role]; !ok || g != kid {
					t.Errorf("%s: kid %q, want %q", role, g, kid)
				}
			}
		})
	}
}

func TestFileGlob(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.pem", pkixPEM(t, &k.p256.PublicKey))
	write("a.pem", pkixPEM(t, &k.rsa.PublicKey))
	write("c.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")

	src := &File{Pattern: filepath.Join(dir, "*.pem")}
	keys, err := src.Keys(context.Background())
	if err == nil || !strings.Contains(err.Error(), "file:"+filepath.Join(dir, "c.pem")+" block 1") {
		t.Fatalf("err = %v, want it to name c.pem block 1", err)
	}
	if len(keys) != 2 || keys[0].Kty != "RSA" || keys[1].Kty != "EC" {
		t.Fatalf("keys not in sorted file order: %+v", keys)
	}

	if _, err := (&File{Pattern: filepath.Join(dir, "none-*.pem")}).Keys(context.Background()); err == nil || !strings.Contains(err.Error(), "no file matches") {
		t.Fatalf("err = %v", err)
	}
	if keys, err := (&File{Pattern: filepath.Join(dir, "none-*.pem"), Optional: true}).Keys(context.Background()); err != nil || keys != nil {
		t.Fatalf("optional: %v %v", keys, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Keys(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestNewSpecs(t *testing.T) {
	for _, tt := range []struct{ spec, want string }{
		{"file:a.pem", "file:a.pem"},
		{"env:X", "env:X"},
		{"env-prefix:JWT_", "env-prefix:JWT_"},
	} {
		s, err := New(Spec{Spec: tt.spec}, Options{})
		if err != nil || s.String() != tt.want {
			t.Errorf("New(%q) = %v, %v", tt.spec, s, err)
		}
	}
	for _, bad := range []string{"nokind", "file:", "ftp:x"} {
		if _, err := New(Spec{Spec: bad}, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}
