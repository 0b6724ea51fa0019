//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TestRotateAWSWebIdentity: the rotation job's AWS path with no stored credential at all. A
// MinIO of its own trusts the emulated GitHub issuer for AssumeRoleWithWebIdentity (the STS
// call the AWS SDK makes from AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, which rotate.sh
// sets), so publishing to s3:// works only if the job's OIDC token reaches STS and comes back
// as credentials. A token whose policy claim grants only reads publishes nothing.
func TestRotateAWSWebIdentity(t *testing.T) {
	// .ci/services.sh installs minio into its cache; .ci/run puts that on PATH.
	minioBin, err := exec.LookPath("minio")
	if err != nil {
		cache := os.Getenv("JWKSPUB_CACHE")
		if cache == "" {
			cache = filepath.Join(os.Getenv("HOME"), ".cache", "jwkspub")
		}
		if minioBin = filepath.Join(cache, "bin", "minio"); !fileExists(minioBin) {
			t.Fatalf("no minio on PATH or in %s/bin: run .ci/services.sh start", cache)
		}
	}
	dir := t.TempDir()

	// The emulated GitHub: an OIDC issuer (discovery and JWKS, which MinIO fetches) and the
	// job's token endpoint, signing with one kid-named key.
	iss := newJWTIssuer(t)
	pub, err := jwk.FromRaw(&iss.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub.Set(jwk.KeyIDKey, "gh-1")
	pub.Set(jwk.AlgorithmKey, jwa.ES256)
	priv, err := jwk.FromRaw(iss.key)
	if err != nil {
		t.Fatal(err)
	}
	priv.Set(jwk.KeyIDKey, "gh-1")
	// The MinIO policy the token's claim names, and the issuer's URL: set by the test, read by
	// the handlers' goroutines.
	var grant, issuer atomic.Value
	grant.Store("readwrite")
	issuerURL := func() string { return issuer.Load().(string) }
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": issuerURL(), "jwks_uri": issuerURL() + "/.well-known/jwks",
			"id_token_signing_alg_values_supported": []string{"ES256"}, "response_types_supported": []string{"id_token"},
			"subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		set := jwk.NewSet()
		set.AddKey(pub)
		json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer request-token" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		tok, err := jwt.NewBuilder().Issuer(issuerURL()).Subject(rotateSubject).
			Audience([]string{r.URL.Query().Get("audience")}).IssuedAt(time.Now()).
			Expiration(time.Now().Add(5*time.Minute)).Claim("policy", grant.Load()).Build()
		if err != nil {
			t.Error(err)
			return
		}
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, priv))
		if err != nil {
			t.Error(err)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": string(signed)})
	})
	gh := httptest.NewUnstartedServer(mux)
	issuer.Store("http://" + gh.Listener.Addr().String())
	gh.Start()
	defer gh.Close()

	// A MinIO of its own: its OpenID configuration is fixed at start.
	port := freePort(t)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	minio := exec.Command(minioBin, "server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)), filepath.Join(dir, "data"))
	minioLog, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer minioLog.Close()
	minio.Stdout, minio.Stderr = minioLog, minioLog
	minio.Env = append(os.Environ(), "MINIO_ROOT_USER=rootuser", "MINIO_ROOT_PASSWORD=rootpassword", "MINIO_BROWSER=off",
		"MINIO_IDENTITY_OPENID_CONFIG_URL="+gh.URL+"/.well-known/openid-configuration",
		"MINIO_IDENTITY_OPENID_CLIENT_ID=sts.amazonaws.com", "MINIO_IDENTITY_OPENID_CLAIM_NAME=policy")
	minio.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := minio.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = minio.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = minio.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = minio.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(minioLog.Name())
			t.Fatalf("minio not ready after 60s: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The bucket, made with the root account (the job has no such thing).
	t.Setenv("AWS_ACCESS_KEY_ID", "rootuser")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rootpassword")
	t.Setenv("AWS_REGION", "us-east-1")
	st := store{name: "s3", targetURL: func(n string) string { return s3URL(endpoint, n) }, create: createS3}
	_, bucket := freshTarget(t, st)

	bin := filepath.Join(dir, "jwkspub")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/jwkspub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keys, _ := filepath.Abs(filepath.Join(repoRoot, "examples/keys"))
	cfg := filepath.Join(dir, "jwkspub.yaml")
	os.WriteFile(cfg, []byte("sets:\n  - name: prod\n    sources: [file:"+keys+"/*.pub.pem]\n    targets: [\""+s3URL(endpoint, bucket)+"\"]\n"), 0o644)
	runnerTemp := filepath.Join(dir, "runner")
	os.Mkdir(runnerTemp, 0o700)
	rotate := func(t *testing.T) (int, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot, ".ci", "rotate.sh"))
		// No AWS key of any kind: only what the job's OIDC token buys at STS.
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "JWKSPUB=" + bin, "RUNNER_TEMP=" + runnerTemp,
			"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary"), "GITHUB_OUTPUT=" + filepath.Join(dir, "output"),
			"ACTIONS_ID_TOKEN_REQUEST_URL=" + gh.URL + "/token?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token",
			"ROTATE_MODE=publish", "ROTATE_CONFIG=" + cfg,
			"ROTATE_AWS_ROLE_ARN=arn:aws:iam::111122223333:role/jwks-publisher",
			"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS=" + endpoint,
		}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("rotate.sh publish: exit %d\n%s", code, out)
		return code, string(out)
	}
	served := func(t *testing.T) int {
		t.Helper()
		resp, err := http.Get(endpoint + "/" + bucket + "/" + jwksKey)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("a read-only grant cannot publish", func(t *testing.T) {
		grant.Store("readonly")
		code, out := rotate(t)
		if code == 0 {
			t.Fatal("published with read-only credentials")
		}
		// STS did issue credentials (diff read the bucket); the write was what failed.
		if !strings.Contains(out, "diff: changed=true") || !strings.Contains(out, "AccessDenied") {
			t.Errorf("want a plan, then AccessDenied on the write:\n%s", out)
		}
		if s := served(t); s != http.StatusNotFound {
			t.Errorf("the bucket answers %d for the JWKS, want 404", s)
		}
	})
	t.Run("the job's token assumes the role and publishes", func(t *testing.T) {
		grant.Store("readwrite")
		code, out := rotate(t)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		// The action's outputs say it wrote (the log line reads jwkspub's own "published").
		if outs, _ := os.ReadFile(filepath.Join(dir, "output")); !strings.Contains(string(outs), "changed=true\nrefused=false\n") {
			t.Errorf("outputs do not say it published:\n%s", outs)
		}
		if !strings.Contains(out, "msg=published") {
			t.Errorf("output does not say it published:\n%s", out)
		}
		if s := served(t); s != http.StatusOK {
			t.Errorf("the bucket answers %d for the JWKS, want 200", s)
		}
	})
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
