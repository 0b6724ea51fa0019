package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/jwkspub/jwkspub/sources"
)

func TestTransitVersions(t *testing.T) {
	all := VersionWindow{All: true}
	tests := []struct {
		name                     string
		latest, minDec, minAvail int
		w                        VersionWindow
		want                     []int
	}{
		{"one version", 1, 1, 0, all, []int{1}},
		{"every live version", 5, 1, 0, all, []int{1, 2, 3, 4, 5}},
		{"min_decryption_version drops old versions", 5, 3, 0, all, []int{3, 4, 5}},
		{"trimmed versions are gone", 5, 2, 4, all, []int{4, 5}},
		{"min_available above min_decryption", 6, 1, 3, all, []int{3, 4, 5, 6}},
		{"zero minimums mean version 1", 3, 0, 0, all, []int{1, 2, 3}},
		{"latest only", 5, 1, 0, VersionWindow{Recent: 1}, []int{5}},
		{"two most recent", 5, 1, 0, VersionWindow{Recent: 2}, []int{4, 5}},
		{"N larger than the window", 5, 4, 0, VersionWindow{Recent: 10}, []int{4, 5}},
		{"N never goes below min_decryption", 5, 5, 0, VersionWindow{Recent: 3}, []int{5}},
		{"min_decryption above latest: none", 2, 3, 0, all, nil},
		{"no versions", 0, 0, 0, all, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TransitVersions(tt.latest, tt.minDec, tt.minAvail, tt.w)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TransitVersions(%d, %d, %d, %+v) = %v, want %v", tt.latest, tt.minDec, tt.minAvail, tt.w, got, tt.want)
			}
		})
	}
}

func TestParseVersions(t *testing.T) {
	tests := []struct {
		in      string
		want    VersionWindow
		wantErr bool
	}{
		{"", VersionWindow{All: true}, false},
		{"all", VersionWindow{All: true}, false},
		{"latest", VersionWindow{Recent: 1}, false},
		{"3", VersionWindow{Recent: 3}, false},
		{"0", VersionWindow{}, true},
		{"-1", VersionWindow{}, true},
		{"newest", VersionWindow{}, true},
	}
	for _, tt := range tests {
		got, err := ParseVersions(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseVersions(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseKVSpec(t *testing.T) {
	tests := []struct {
		arg              string
		path, field      string
		version          int
		wantErrSubstring string
	}{
		{arg: "secret/jwt#public_key", path: "secret/jwt", field: "public_key"},
		{arg: "kv/team/a/jwt#jwks", path: "kv/team/a/jwt", field: "jwks"},
		{arg: "/secret/jwt/#pem", path: "secret/jwt", field: "pem"},
		{arg: "secret/jwt?version=3#pem", path: "secret/jwt", field: "pem", version: 3},
		{arg: "secret/jwt", wantErrSubstring: "name the field"},
		{arg: "secret/jwt#", wantErrSubstring: "name the field"},
		{arg: "jwt#pem", wantErrSubstring: "mount and the secret path"},
		{arg: "secret/jwt?version=0#pem", wantErrSubstring: "?version=N"},
		{arg: "secret/jwt?version=x#pem", wantErrSubstring: "?version=N"},
		{arg: "secret/jwt?v=1#pem", wantErrSubstring: "?version=N"},
		{arg: "secret/jwt?version=1&a=b#pem", wantErrSubstring: "?version=N"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			path, field, version, err := ParseKVSpec(tt.arg)
			if tt.wantErrSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
					t.Fatalf("ParseKVSpec(%q) error = %v, want one containing %q", tt.arg, err, tt.wantErrSubstring)
				}
				return
			}
			if err != nil || path != tt.path || field != tt.field || version != tt.version {
				t.Errorf("ParseKVSpec(%q) = %q, %q, %d, %v; want %q, %q, %d", tt.arg, path, field, version, err, tt.path, tt.field, tt.version)
			}
		})
	}
}

func TestNewVaultSpecs(t *testing.T) {
	v := &Vault{Client: &api.Client{}}
	opts := sources.Options{Vault: v}
	tests := []struct {
		spec     sources.Spec
		want     string // String() of the source, or
		wantErr  string // a substring of the error
		noClient bool
	}{
		{spec: sources.Spec{Spec: "vault-transit:transit/jwt"}, want: "vault-transit:transit/jwt"},
		{spec: sources.Spec{Spec: "vault-transit:team/transit/jwt", Versions: "2"}, want: "vault-transit:team/transit/jwt"},
		{spec: sources.Spec{Spec: "vault-transit:jwt"}, wantErr: "use vault-transit:MOUNT/KEY"},
		{spec: sources.Spec{Spec: "vault-transit:transit/"}, wantErr: "use vault-transit:MOUNT/KEY"},
		{spec: sources.Spec{Spec: "vault-transit:transit/jwt", Versions: "some"}, wantErr: `versions "some"`},
		{spec: sources.Spec{Spec: "vault-kv:secret/jwt#pem"}, want: "vault-kv:secret/jwt#pem"},
		{spec: sources.Spec{Spec: "vault-kv:secret/jwt?version=2#pem"}, want: "vault-kv:secret/jwt?version=2#pem"},
		{spec: sources.Spec{Spec: "vault-kv:secret/jwt#pem", Versions: "latest"}, wantErr: "pin a KV v2 version with ?version=N"},
		{spec: sources.Spec{Spec: "vault-oidc:"}, want: "vault-oidc:"},
		{spec: sources.Spec{Spec: "vault-oidc:provider/default"}, want: "vault-oidc:provider/default"},
		{spec: sources.Spec{Spec: "vault-oidc:keys"}, wantErr: "vault-oidc:provider/NAME"},
		{spec: sources.Spec{Spec: "vault-oidc:", Versions: "latest"}, wantErr: "versions applies to vault-transit"},
		{spec: sources.Spec{Spec: "vault-transit:transit/jwt"}, noClient: true, wantErr: "set VAULT_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Spec, func(t *testing.T) {
			o := opts
			if tt.noClient {
				o.Vault = nil
			}
			s, err := sources.New(tt.spec, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%+v) error = %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tt.spec, err)
			}
			if s.String() != tt.want {
				t.Errorf("String() = %q, want %q", s.String(), tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	v := &Vault{}
	op := vaultOp{path: "transit/keys/jwt", capability: "read"}
	resp := func(code int, msgs ...string) error { return &api.ResponseError{StatusCode: code, Errors: msgs} }
	tests := []struct {
		name     string
		err      error
		timedOut bool
		op       vaultOp
		kind     error
		retry    bool
		contains []string
	}{
		{"sealed", resp(503, "Vault is sealed"), false, op, ErrVaultSealed, false, []string{"vault is sealed", "transit/keys/jwt"}},
		{"policy denies", resp(403, "1 error occurred:\n\t* permission denied\n\n"), false, op, ErrVaultDenied, false,
			[]string{`must grant "read" on "transit/keys/jwt"`}},
		{"invalid token", resp(403, "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"), false, op, ErrVaultDenied, false,
			[]string{"invalid or expired"}},
		{"wrong mount", resp(404, `no handler for route "nomount/keys/jwt". route entry not found.`), false, op, ErrVaultNotFound, false,
			[]string{"nothing is mounted there"}},
		{"missing key", resp(404), false, op, ErrVaultNotFound, false, []string{"transit/keys/jwt does not exist"}},
		{"rate limited", resp(429, "rate limit quota exceeded"), false, op, ErrVaultResponse, true, []string{"HTTP 429"}},
		{"server error", resp(500, "internal error"), false, op, ErrVaultResponse, true, []string{"HTTP 500", "internal error"}},
		{"standby unavailable", resp(503, "Vault is in standby mode"), false, op, ErrVaultResponse, true, []string{"HTTP 503"}},
		{"not implemented is final", resp(501), false, op, ErrVaultResponse, false, []string{"HTTP 501"}},
		{"bad request is final", resp(400, "bad"), false, op, ErrVaultResponse, false, []string{"HTTP 400"}},
		{"login refused", resp(400, "invalid role or secret ID"), false, vaultOp{path: "auth/approle/login", login: true}, ErrVaultLogin, false,
			[]string{"auth/approle/login", "invalid role or secret ID"}},
		{"timeout", context.DeadlineExceeded, true, op, ErrVaultUnreachable, true, []string{"no answer within 10s"}},
		{"connection refused", &url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/transit/keys/jwt?x=secret", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}},
			false, op, ErrVaultUnreachable, true, []string{"connection refused", "127.0.0.1:1"}},
		{"garbage", fmt.Errorf("decoding the answer: %w", errors.New("invalid character 'x'")), false, op, ErrVaultResponse, false, []string{"invalid character"}},
		{"answer cut short", fmt.Errorf("decoding the answer: %w", io.ErrUnexpectedEOF), false, op, ErrVaultUnreachable, true, []string{"the answer was cut short"}},
		{"login refused with a bare 403", resp(403, "permission denied"), false, vaultOp{path: "auth/kubernetes/login", login: true, loginFix: "check the role's bound_service_account_names"}, ErrVaultLogin, false,
			[]string{"auth/kubernetes/login: HTTP 403: permission denied: Vault refused the credentials, or no auth method is mounted at auth/kubernetes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retry := v.classify(tt.op, tt.err, tt.timedOut)
			if !errors.Is(got, tt.kind) {
				t.Errorf("classify = %v, want errors.Is %v", got, tt.kind)
			}
			if retry != tt.retry {
				t.Errorf("retry = %v, want %v", retry, tt.retry)
			}
			for _, c := range tt.contains {
				if !strings.Contains(got.Error(), c) {
					t.Errorf("message %q lacks %q", got.Error(), c)
				}
			}
			if strings.Contains(got.Error(), "x=secret") {
				t.Errorf("message %q keeps the URL's query", got.Error())
			}
		})
	}
	refused, _ := v.classify(vaultOp{path: "auth/kubernetes/login", login: true, loginFix: "check the role"}, resp(403, "permission denied"), false)
	if fix := vaultFix(refused); fix != "check the role; and check --vault-auth-mount against `vault auth list`" {
		t.Errorf("login fix = %q", fix)
	}
	denied, _ := v.classify(op, resp(403, "permission denied"), false)
	if fix := vaultFix(denied); fix != `add path "transit/keys/jwt" { capabilities = ["read"] } to the token's policy` {
		t.Errorf("fix = %q", fix)
	}
}

// TestCallRetries checks the retry loop's bounds without a server: a retryable error is tried
// 1+Retries times, a final one once, and a cancelled context stops at once.
func TestCallRetries(t *testing.T) {
	op := vaultOp{path: "transit/keys/jwt", capability: "read"}
	tests := []struct {
		name    string
		retries int
		errs    []error // returned by successive attempts; nil means success
		calls   int
		wantErr error
	}{
		{"success first", 3, []error{nil}, 1, nil},
		{"500 then success", 3, []error{&api.ResponseError{StatusCode: 500}, &api.ResponseError{StatusCode: 502}, nil}, 3, nil},
		{"500 every time", 2, []error{&api.ResponseError{StatusCode: 500}, &api.ResponseError{StatusCode: 500}, &api.ResponseError{StatusCode: 500}}, 3, ErrVaultResponse},
		{"403 is not retried", 3, []error{&api.ResponseError{StatusCode: 403}}, 1, ErrVaultDenied},
		{"no retries", -1, []error{&api.ResponseError{StatusCode: 500}}, 1, ErrVaultResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Vault{Retries: tt.retries, Backoff: 1}
			calls := 0
			got, err := call(context.Background(), v, op, func(context.Context) (int, error) {
				e := tt.errs[calls]
				calls++
				return 42, e
			})
			if calls != tt.calls {
				t.Errorf("%d calls, want %d", calls, tt.calls)
			}
			if tt.wantErr == nil {
				if err != nil || got != 42 {
					t.Errorf("call = %d, %v; want 42, nil", got, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("call error = %v, want %v", err, tt.wantErr)
			}
			if calls > 1 && !strings.Contains(err.Error(), fmt.Sprintf("after %d attempts", calls)) {
				t.Errorf("error %q does not say how many attempts", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := call(ctx, &Vault{}, op, func(context.Context) (int, error) { return 0, &api.ResponseError{StatusCode: 500} })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call error = %v, want context.Canceled", err)
	}
}

func TestRedact(t *testing.T) {
	err := vErr(ErrVaultLogin, "fix", "auth/jwt/login: HTTP 400: token eyJhbGciOi.payload.sig is bad")
	got := redact(err, "eyJhbGciOi.payload.sig", "")
	if strings.Contains(got.Error(), "payload") || !strings.Contains(got.Error(), "[redacted]") {
		t.Errorf("redact = %q", got)
	}
	if !errors.Is(got, ErrVaultLogin) || vaultFix(got) != "fix" {
		t.Errorf("redact lost the kind or the fix: %v", got)
	}
	if redact(err, "absent") != err {
		t.Error("redact changed an error holding no secret")
	}
}

func TestVaultLoginValidate(t *testing.T) {
	tests := []struct {
		login   VaultLogin
		wantErr string
	}{
		{VaultLogin{Method: AuthAppRole, RoleID: "r", SecretID: "s"}, ""},
		{VaultLogin{Method: AuthAppRole, SecretID: "s"}, "needs a role id"},
		{VaultLogin{Method: AuthAppRole, RoleID: "r"}, "needs a secret id"},
		{VaultLogin{Method: AuthKubernetes, Role: "r", JWT: "j"}, ""},
		{VaultLogin{Method: AuthKubernetes, JWT: "j"}, "needs a role"},
		{VaultLogin{Method: AuthJWT, JWT: "j"}, ""},
		{VaultLogin{Method: AuthJWT}, "needs a JWT"},
		{VaultLogin{Method: AuthGitHubActions, GitHub: &GitHubOIDC{RequestURL: "https://x", RequestToken: "t"}}, ""},
		{VaultLogin{Method: AuthGitHubActions}, "id-token: write"},
		{VaultLogin{Method: "ldap"}, "use one of"},
	}
	for _, tt := range tests {
		err := tt.login.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Validate(%s) = %v, want %q", tt.login.Method, err, tt.wantErr)
		}
	}
	if m := (&VaultLogin{Method: AuthGitHubActions}).mount(); m != "jwt" {
		t.Errorf("github-actions mount = %q, want jwt", m)
	}
}

func TestTransitSignParams(t *testing.T) {
	tests := []struct {
		alg  string
		want map[string]any
	}{
		{"RS256", map[string]any{"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-256"}},
		{"RS512", map[string]any{"signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"}},
		{"PS256", map[string]any{"signature_algorithm": "pss", "hash_algorithm": "sha2-256", "salt_length": "hash"}},
		{"PS384", map[string]any{"signature_algorithm": "pss", "hash_algorithm": "sha2-384", "salt_length": "hash"}},
		{"ES256", map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": "sha2-256"}},
		{"ES512", map[string]any{"marshaling_algorithm": "jws", "hash_algorithm": "sha2-512"}},
		{"EdDSA", map[string]any{}},
	}
	for _, tt := range tests {
		got, err := TransitSignParams(tt.alg)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("TransitSignParams(%s) = %v, %v; want %v", tt.alg, got, err, tt.want)
		}
	}
	for _, bad := range []string{"HS256", "ES257", "none", "", "PS2566"} {
		if _, err := TransitSignParams(bad); err == nil {
			t.Errorf("TransitSignParams(%q) gave no error", bad)
		}
	}
}

func TestIsUnavailable(t *testing.T) {
	op := vaultOp{path: "transit/keys/jwt", capability: "read"}
	run := func(errs ...error) error {
		i, retries := 0, len(errs)-1
		if retries == 0 {
			retries = -1 // Retries 0 means the default
		}
		_, err := call(context.Background(), &Vault{Retries: retries, Backoff: 1}, op, func(context.Context) (int, error) {
			e := errs[i]
			i++
			return 0, e
		})
		return &sources.Error{Origin: sources.Origin{Source: "vault-transit:transit/jwt"}, Err: err}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"5xx after retries", run(&api.ResponseError{StatusCode: 503}, &api.ResponseError{StatusCode: 500}), true},
		{"unreachable", run(&url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), true},
		{"sealed", run(&api.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed"}}), true},
		{"denied is a misconfiguration", run(&api.ResponseError{StatusCode: 403}), false},
		{"not found is a misconfiguration", run(&api.ResponseError{StatusCode: 404}), false},
		{"garbage is not an outage", run(errors.New("decoding the answer")), false},
		{"another source's error", &sources.Error{Err: sources.ErrNoKeys}, false},
	}
	for _, tt := range tests {
		if got := IsUnavailable(tt.err); got != tt.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestClassifyCertificateErrors(t *testing.T) {
	op := vaultOp{path: "transit/keys/jwt", capability: "read"}
	err := &url.Error{Op: "Get", URL: "https://vault:8200/v1/transit/keys/jwt", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}
	got, retry := (&Vault{}).classify(op, err, false)
	if retry || !errors.Is(got, ErrVaultUnreachable) || !strings.Contains(vaultFix(got), "VAULT_CACERT") {
		t.Errorf("classify = %v (retry %v, fix %q); want a final unreachable error pointing at VAULT_CACERT", got, retry, vaultFix(got))
	}
}
