//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/awskms"
)

// kmsEnv is the local-kms emulator .ci/services.sh started.
type kmsEnv struct {
	endpoint, region string
	cfg              aws.Config
	admin            *kms.Client // creates keys and aliases
}

func newKMSEnv(t *testing.T) *kmsEnv {
	t.Helper()
	e := &kmsEnv{endpoint: needEnv(t, "JWKSPUB_IT_KMS_ENDPOINT"), region: needEnv(t, "JWKSPUB_IT_KMS_REGION")}
	// The emulator accepts any signature: throwaway credentials, not secrets.
	e.cfg = aws.Config{Region: e.region, Credentials: credentials.NewStaticCredentialsProvider("jwkspub-test", "jwkspub-test", "")}
	e.admin = kms.NewFromConfig(e.cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(e.endpoint) })
	return e
}

// key creates a key of spec and usage and returns its id.
func (e *kmsEnv) key(t *testing.T, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := e.admin.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Description: aws.String("jwkspub integration " + t.Name())})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	return *out.KeyMetadata.KeyId
}

// alias points alias/NAME (made unique per run: the emulator keeps its data) at key.
func (e *kmsEnv) alias(t *testing.T, name, key string) string {
	t.Helper()
	_, err := e.admin.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateAlias %s: %v", name, err)
	}
	return name
}

// source builds an aws-kms: source for spec through sources.New, as the command does.
func (e *kmsEnv) source(t *testing.T, spec sources.Spec, endpoint string) sources.Source {
	t.Helper()
	if endpoint == "" {
		endpoint = e.endpoint
	}
	spec.Spec += "?endpoint=" + endpoint
	k := &awskms.KMS{Config: e.cfg, Retries: 2, Timeout: 2 * time.Second, MaxBackoff: 20 * time.Millisecond}
	s, err := sources.New(spec, sources.Options{KMS: k})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKMSKeySpecs: every signing key spec KMS has gives its alg (RSA keys PS256 when the
// source says so); every other key is refused naming its spec, usage or state.
func TestKMSKeySpecs(t *testing.T) {
	e := newKMSEnv(t)
	want := map[types.KeySpec]string{
		types.KeySpecRsa2048: "RS256", types.KeySpecRsa3072: "RS256", types.KeySpecRsa4096: "RS256",
		types.KeySpecEccNistP256: "ES256", types.KeySpecEccNistP384: "ES384", types.KeySpecEccNistP521: "ES512",
	}
	var ids []string
	algOf := map[string]string{}
	for spec, alg := range want {
		id := e.key(t, spec, types.KeyUsageTypeSignVerify)
		ids = append(ids, id)
		algOf[id] = alg
	}
	keys, err := e.source(t, sources.Spec{Spec: "aws-kms:" + strings.Join(ids, "+")}, "").Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	set := vaultAssemble(t, keys, "{{.Name}}")
	if len(set.Keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(set.Keys), len(want))
	}
	for _, k := range set.Keys {
		if algOf[k.KID] != k.Alg {
			t.Errorf("key %s: alg %s, want %s", k.KID, k.Alg, algOf[k.KID])
		}
	}

	rsa := e.key(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	keys, err = e.source(t, sources.Spec{Spec: "aws-kms:" + rsa, Alg: "PS256"}, "").Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set := vaultAssemble(t, keys, ""); set.Keys[0].Alg != "PS256" {
		t.Errorf("RSA key with alg PS256: published %s", set.Keys[0].Alg)
	}

	disabled := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	if _, err := e.admin.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	deleting := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	if _, err := e.admin.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: aws.String(deleting), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		is        error
		msg       string
	}{
		{"encrypt-decrypt", e.key(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt), awskms.ErrUnusable, "has KeyUsage ENCRYPT_DECRYPT: only SIGN_VERIFY keys sign JWTs"},
		{"symmetric", e.key(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt), awskms.ErrUnusable, "KeyUsage ENCRYPT_DECRYPT"},
		{"secp256k1", e.key(t, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify), awskms.ErrUnusable, "has key spec ECC_SECG_P256K1: secp256k1 (ES256K)"},
		{"disabled", disabled, awskms.ErrUnusable, "is Disabled, not Enabled"},
		{"pending deletion", deleting, awskms.ErrUnusable, "is PendingDeletion, deleted on"},
		{"missing", "0b6f8a2e-3c1d-4e5f-8a9b-000000000000", awskms.ErrNotFound, "in region " + e.region},
		{"missing alias", "alias/jwkspub-none-" + vaultName("a"), awskms.ErrNotFound, "in region " + e.region},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.source(t, sources.Spec{Spec: "aws-kms:" + tc.key}, "").Keys(context.Background())
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "aws-kms:"+tc.key) {
				t.Fatalf("error %v, want %v naming the source and saying %q", err, tc.is, tc.msg)
			}
			if sources.IsUnavailable(err) {
				t.Errorf("%v reads as an outage", err)
			}
		})
	}
	// An optional source skips a key that does not exist, and still reads the others.
	keys, err = e.source(t, sources.Spec{Spec: "aws-kms:0b6f8a2e-3c1d-4e5f-8a9b-000000000000+" + rsa, Optional: true}, "").Keys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("optional with a missing key: %d keys, %v", len(keys), err)
	}
}

// TestKMSAlias: an alias publishes the key it points at now; listing the previous key before
// it keeps that one too, oldest first, and the key the alias points at is not published twice.
func TestKMSAlias(t *testing.T) {
	e := newKMSEnv(t)
	k1 := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	k2 := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	alias := e.alias(t, "alias/jwkspub-"+vaultName("jwt"), k1)
	keys, err := e.source(t, sources.Spec{Spec: "aws-kms:" + alias}, "").Keys(context.Background())
	if err != nil || len(keys) != 1 || keys[0].Name != k1 {
		t.Fatalf("alias to k1: %v, %v", keys, err)
	}
	if want := "key " + alias + " (" + k1 + ")"; keys[0].Origin.Location != want {
		t.Errorf("origin %q, want %q", keys[0].Origin.Location, want)
	}
	if _, err := e.admin.UpdateAlias(context.Background(), &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	keys, err = e.source(t, sources.Spec{Spec: "aws-kms:" + k1 + "+" + alias + "+" + k2}, "").Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Name != k1 || keys[1].Name != k2 || keys[0].Order >= keys[1].Order {
		t.Fatalf("after the alias moved: %+v", keys)
	}
}

// TestKMSCLIAliasRotation: publish an alias's key through the CLI; move the alias; publishing
// the alias keeps the old key (read again by the id the state recorded) beside the new one,
// which status names to sign with. An old key disabled before its removal time is refused,
// naming it and its state, and nothing is written; once the rotation rules allow, the next
// publication drops it.
func TestKMSCLIAliasRotation(t *testing.T) {
	e := newKMSEnv(t)
	k1 := e.key(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	k2 := e.key(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	alias := e.alias(t, "alias/jwkspub-"+vaultName("rot"), k1)
	dir, out := t.TempDir(), t.TempDir()
	// Safe delay 1s (max-age) + max_token_lifetime 2s: the old key may go 3s after the move.
	cfg := fmt.Sprintf(`sets:
  - name: kms
    sources:
      - {spec: "aws-kms:%s?endpoint=%s", kid: "{{.Name}}"}
    targets:
      - file://%s
    output: {cache_control: "public, max-age=1"}
    rotation: {max_token_lifetime: 2s, cdn_ttl: 0s}
`, alias, e.endpoint, filepath.Join(out, ".well-known", "jwks.json"))
	if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := func() string {
		b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
		return string(b)
	}
	has := func(kid string) bool { return strings.Contains(doc(), `"kid":"`+kid+`"`) }
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "AWS_REGION=" + e.region, "AWS_ACCESS_KEY_ID=jwkspub-test", "AWS_SECRET_ACCESS_KEY=jwkspub-test-secret", "AWS_EC2_METADATA_DISABLED=true"}
	var outputs strings.Builder
	run := func(want int, args ...string) string {
		t.Helper()
		stdout, errOut, code := runJwkspub(t, bin, dir, env, args...)
		outputs.WriteString(stdout + errOut)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, stdout, errOut)
		}
		return stdout + errOut
	}
	setKey := func(key string, enable bool) {
		t.Helper()
		var err error
		if enable {
			_, err = e.admin.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(key)})
		} else {
			_, err = e.admin.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(key)})
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	run(0, "publish")
	if !has(k1) {
		t.Fatalf("first publication lacks %s:\n%s", k1, doc())
	}
	if _, err := e.admin.UpdateAlias(context.Background(), &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(k2)}); err != nil {
		t.Fatal(err)
	}
	run(0, "publish")
	if !has(k1) || !has(k2) {
		t.Fatalf("after the alias moved, the document lacks %s or %s:\n%s", k1, k2, doc())
	}
	state, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json.state.json"))
	if !strings.Contains(string(state), `"source_key": "arn:aws:kms:`) || !strings.Contains(string(state), k1) {
		t.Errorf("the state records no key ARN for %s:\n%s", k1, state)
	}

	time.Sleep(1100 * time.Millisecond) // k2 becomes safe to sign with (max-age=1)
	var st report.StatusReport
	if err := json.Unmarshal([]byte(run(0, "status", "--format", "json")), &st); err != nil || len(st.Timelines) != 1 {
		t.Fatalf("status: %v", err)
	}
	if sw := st.Timelines[0].SignWith; sw == nil || sw.KID != k2 {
		t.Errorf("status signs with %+v, want %s (the alias's key)", sw, k2)
	}

	// Disabled before its removal time: refused, naming the key and its state; nothing written.
	setKey(k1, false)
	before := doc()
	msg := run(3, "publish")
	if !strings.Contains(msg, `kid "`+k1+`": removal-too-early: it leaves the set because`) || !strings.Contains(msg, k1+" is Disabled") {
		t.Errorf("refusal does not name %s and its state:\n%s", k1, msg)
	}
	if doc() != before {
		t.Fatal("a refused publish changed the document")
	}
	setKey(k1, true)

	time.Sleep(3 * time.Second) // superseded + safe delay + max_token_lifetime
	run(0, "publish")
	if has(k1) || !has(k2) {
		t.Errorf("after the removal time: want %s dropped and %s kept:\n%s", k1, k2, doc())
	}
	if strings.Contains(outputs.String(), "jwkspub-test-secret") {
		t.Errorf("the secret key shows in the output")
	}
}

// TestKMSFaults puts an httptest proxy in front of the emulator: throttling and 5xx are
// retried, then read as an outage; a hang times out; a reset is retried; access denied names
// the action and resource to grant and is not retried.
func TestKMSFaults(t *testing.T) {
	e := newKMSEnv(t)
	key := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	kmsErr := func(w http.ResponseWriter, code int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
	}
	reset := func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	for _, tc := range []struct {
		name     string
		fault    func(n int64, w http.ResponseWriter, r *http.Request) bool
		requests int64
		is       error
		msg      string
		down     bool
	}{
		{"throttled then ok", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n <= 2 {
				kmsErr(w, 400, "ThrottlingException", "Rate exceeded")
				return true
			}
			return false
		}, 4, nil, "", false}, // two throttled DescribeKeys, then DescribeKey and GetPublicKey
		{"always 500", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			kmsErr(w, 500, "KMSInternalException", "internal error")
			return true
		}, 3, awskms.ErrUnreachable, "kms:DescribeKey " + key + ": KMSInternalException: internal error (after 3 attempts)", true},
		{"reset then ok", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				reset(w)
				return true
			}
			return false
		}, 3, nil, "", false},
		{"hang", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			return true
		}, 3, awskms.ErrUnreachable, "no answer within 2s (after 3 attempts)", true},
		{"access denied", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			kmsErr(w, 400, "AccessDeniedException", "User: arn:aws:sts::111122223333:assumed-role/publisher/job is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:us-east-1:111122223333:key/"+key)
			return true
		}, 1, awskms.ErrDenied, "fix: grant kms:DescribeKey and kms:GetPublicKey on arn:aws:kms:us-east-1:111122223333:key/" + key + " to the job's role", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, n := vaultFaultProxy(t, e.endpoint, tc.fault)
			keys, err := e.source(t, sources.Spec{Spec: "aws-kms:" + key}, proxy).Keys(context.Background())
			if got := n.Load(); got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			if tc.is == nil {
				if err != nil || len(keys) != 1 {
					t.Fatalf("%d keys, %v", len(keys), err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v saying %q", err, tc.is, tc.msg)
			}
			if got := sources.IsUnavailable(err); got != tc.down {
				t.Errorf("IsUnavailable = %v, want %v", got, tc.down)
			}
		})
	}
}

// TestKMSSignVerifiers: probes KMS signs (awskms.Source.SignJWT, what verify --sign-test
// sends) verify against the set jwkspub builds from the same keys, with Go (jwx), PyJWT and
// node jose, for every alg KMS signs JWTs with; then the CLI's verify --sign-test passes for the
// same sources and fails (exit 3) when the set gives the key another alg than the one it signs
// with.
func TestKMSSignVerifiers(t *testing.T) {
	e := newKMSEnv(t)
	cases := []struct {
		spec types.KeySpec
		alg  string
	}{
		{types.KeySpecRsa2048, "RS256"}, {types.KeySpecRsa3072, "PS256"}, {types.KeySpecRsa4096, "RS512"},
		{types.KeySpecEccNistP256, "ES256"}, {types.KeySpecEccNistP384, "ES384"}, {types.KeySpecEccNistP521, "ES512"},
	}
	var (
		keys   []sources.Key
		tokens []signedToken
		specs  []string
	)
	for _, c := range cases {
		id := e.key(t, c.spec, types.KeyUsageTypeSignVerify)
		spec := sources.Spec{Spec: "aws-kms:" + id, Alg: c.alg, KID: "{{.Name}}"}
		s := e.source(t, spec, "").(*awskms.Source)
		ks, err := s.Keys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ks...)
		specs = append(specs, fmt.Sprintf("      - {spec: %q, alg: %s, kid: %q}\n", s.String(), c.alg, "{{.Name}}"))
		now := time.Now().Unix()
		tok, err := s.SignJWT(context.Background(), id, c.alg, id, map[string]any{"iss": "https://issuer.test", "aud": "verifiers", "iat": now, "exp": now + 300})
		if err != nil {
			t.Fatalf("SignJWT %s: %v", c.alg, err)
		}
		tokens = append(tokens, signedToken{Alg: c.alg, Token: tok})
	}
	set := vaultAssemble(t, keys, "")
	doc, err := jwks.Encode(set, false)
	if err != nil {
		t.Fatal(err)
	}
	goSet, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if _, err := jwt.Parse([]byte(tokens[i].Token), jwt.WithKeySet(goSet), jwt.WithAudience("verifiers")); err != nil {
			t.Errorf("%s: Go (jwx) rejects the token KMS signed: %v", c.alg, err)
		}
	}
	for _, verifier := range []string{"pyjwt", "jose"} {
		lines := externalVerify(t, verifier, doc, tokens)
		for i, c := range cases {
			switch {
			case strings.HasPrefix(c.alg, "PS") && lines[i] == "ok":
				// The emulator signs PSS with the maximum salt (Go's rsa.SignPSS with nil
				// options); AWS KMS uses a salt as long as the digest, which these verifiers
				// require. If this starts passing, the emulator was fixed: make it an ok case.
				t.Logf("%s accepts the emulator's %s token", verifier, c.alg)
			case strings.HasPrefix(c.alg, "PS"):
				t.Logf("%s rejects the emulator's %s token (maximum salt, unlike AWS KMS): %s", verifier, c.alg, lines[i])
			case lines[i] != "ok":
				t.Errorf("%s rejects the %s token KMS signed: %s", verifier, c.alg, lines[i])
			}
		}
	}

	// The CLI's verify --sign-test, with the same sources.
	dir := t.TempDir()
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte("sets:\n  - name: kms\n    sources:\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Join(specs, ""))
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "AWS_REGION=" + e.region, "AWS_ACCESS_KEY_ID=jwkspub-test", "AWS_SECRET_ACCESS_KEY=jwkspub-test", "AWS_EC2_METADATA_DISABLED=true"}
	out, errOut, code := runJwkspub(t, bin, dir, env, "verify", "--sign-test")
	if code != 0 || strings.Count(out, "sign-test ok: aws-kms:") != len(cases) {
		t.Fatalf("verify --sign-test: exit %d\n%s%s", code, out, errOut)
	}
	// KMS signing with another key than the set's newest (an alias moved after the build,
	// here a proxy that rewrites Sign's KeyId): the probe fails, exit 3, naming the source.
	other := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mine := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	proxy, _ := vaultFaultProxy(t, e.endpoint, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("X-Amz-Target") != "TrentService.Sign" {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		body = bytes.ReplaceAll(body, []byte(mine), []byte(other))
		req, _ := http.NewRequest(http.MethodPost, e.endpoint+"/", bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return true
	})
	write(fmt.Sprintf("      - {spec: %q, kid: %q}\n", "aws-kms:"+mine+"?endpoint="+proxy, "{{.Name}}"))
	out, errOut, code = runJwkspub(t, bin, dir, env, "verify", "--sign-test")
	if code != 3 || !strings.Contains(out, "sign-test FAILED: aws-kms:"+mine) || !strings.Contains(errOut, "the probe KMS signed does not verify against the built set") {
		t.Fatalf("a probe signed by another key: exit %d, want 3\n%s%s", code, out, errOut)
	}
}

// TestKMSCLIOptionalDown: an optional aws-kms source whose KMS answers 500 (through a proxy in
// front of the emulator) keeps its live keys at publish, with a warning; required, the run
// fails and writes nothing.
func TestKMSCLIOptionalDown(t *testing.T) {
	e := newKMSEnv(t)
	key := e.key(t, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	var down atomic.Bool
	proxy, _ := vaultFaultProxy(t, e.endpoint, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if !down.Load() {
			return false
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(500)
		io.WriteString(w, `{"__type":"KMSInternalException","message":"internal error"}`)
		return true
	})
	dir, out := t.TempDir(), t.TempDir()
	config := func(optional bool) {
		cfg := fmt.Sprintf("sets:\n  - name: kms\n    sources:\n      - {spec: %q, kid: %q, optional: %v}\n    targets:\n      - file://%s\n",
			"aws-kms:"+key+"?endpoint="+proxy, "{{.Name}}", optional, filepath.Join(out, ".well-known", "jwks.json"))
		if err := os.WriteFile(filepath.Join(dir, "jwkspub.yaml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc := func() string {
		b, _ := os.ReadFile(filepath.Join(out, ".well-known", "jwks.json"))
		return string(b)
	}
	bin := buildJwkspub(t)
	env := []string{"HOME=" + dir, "AWS_REGION=" + e.region, "AWS_ACCESS_KEY_ID=jwkspub-test", "AWS_SECRET_ACCESS_KEY=jwkspub-test", "AWS_EC2_METADATA_DISABLED=true"}
	config(true)
	if _, errOut, code := runJwkspub(t, bin, dir, env, "publish"); code != 0 {
		t.Fatalf("first publish: exit %d\n%s", code, errOut)
	}
	first := doc()
	if !strings.Contains(first, `"kid":"`+key+`"`) {
		t.Fatalf("first publication: %s", first)
	}
	down.Store(true)
	stdout, errOut, code := runJwkspub(t, bin, dir, env, "publish")
	if code != 0 || !strings.Contains(errOut, "optional source unavailable") || !strings.Contains(errOut, "KMSInternalException") {
		t.Fatalf("optional source down: exit %d\n%s%s", code, stdout, errOut)
	}
	if doc() != first {
		t.Errorf("the live keys changed:\nbefore %s\nafter  %s", first, doc())
	}
	config(false)
	_, errOut, code = runJwkspub(t, bin, dir, env, "publish")
	if code != 1 || !strings.Contains(errOut, "AWS KMS unreachable: kms:DescribeKey "+key+": KMSInternalException: internal error (after 4 attempts)") {
		t.Fatalf("required source down: exit %d\n%s", code, errOut)
	}
	if doc() != first {
		t.Errorf("a failed run changed the document")
	}
}
