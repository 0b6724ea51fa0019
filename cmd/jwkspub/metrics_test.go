package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsFile runs publish and diff with --metrics-file through a rotation's outcomes and
// reads the file with Prometheus' own parser after each run.
func TestMetricsFile(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ed25519.pub.pem", "p256.pub.pem"} {
		b, err := os.ReadFile(filepath.Join("../../examples/keys", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(keys, f), string(b))
	}
	t0 := time.Now().UTC().Truncate(time.Second)
	writeFile(t, filepath.Join(keys, "cert.pem"), selfSigned(t, t0.Add(-time.Hour), t0.Add(45*24*time.Hour)))
	cfg := filepath.Join(dir, "jwkspub.yaml")
	writeFile(t, cfg, `sets:
  - name: prod
    sources: [file:`+keys+`/*.pem]
    rotation: {max_token_lifetime: 1h}
    targets: [file://`+dir+`/out/jwks.json]
`)
	metrics := filepath.Join(dir, "jwkspub.prom")

	now := t0
	cli := func(args ...string) int {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"jwkspub"}, args...), env{
			stdout: &out, stderr: &errb, lookup: func(string) (string, bool) { return "", false },
			now: func() time.Time { return now },
		})
		t.Logf("jwkspub %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		return code
	}
	read := func() map[string]*dto.MetricFamily {
		t.Helper()
		b, err := os.ReadFile(metrics)
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("Prometheus parser: %v\n%s", err, b)
		}
		return fams
	}
	gauge := func(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
		for _, m := range fams[name].GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(ls, ",") == strings.Join(labels, ",") {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	result := func(fams map[string]*dto.MetricFamily) string {
		for _, m := range fams["jwkspub_last_run_result"].GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				return m.GetLabel()[0].GetValue()
			}
		}
		return ""
	}
	ages := func(fams map[string]*dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, m := range fams["jwkspub_key_published_age_seconds"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kid" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}

	// 1. diff before anything is published: changes pending, nothing live, so no ages.
	if code := cli("diff", "--config", cfg, "--detailed-exitcode", "--metrics-file", metrics); code != exitChanges {
		t.Fatalf("diff exit %d", code)
	}
	f := read()
	if r := result(f); r != "changed" {
		t.Errorf("diff result %q, want changed", r)
	}
	if v, _ := gauge(f, "jwkspub_keys", "set=prod"); v != 3 {
		t.Errorf("keys = %v, want 3", v)
	}
	if a := ages(f); len(a) != 0 {
		t.Errorf("ages before publishing: %v", a)
	}
	if v, _ := gauge(f, "jwkspub_last_success_timestamp_seconds"); v != float64(t0.Unix()) {
		t.Errorf("last success %v, want %v", v, t0.Unix())
	}
	// The certificate expires in 45 days.
	exp := f["jwkspub_cert_expiry_days"].GetMetric()
	if len(exp) != 1 || math.Abs(exp[0].GetGauge().GetValue()-45) > 0.01 {
		t.Errorf("cert expiry series %v, want one at 45 days", exp)
	}

	// 2. publish: changed; every kid first published now.
	if code := cli("publish", "--config", cfg, "--metrics-file", metrics); code != 0 {
		t.Fatalf("publish exit %d", code)
	}
	f = read()
	if r := result(f); r != "changed" {
		t.Errorf("publish result %q, want changed", r)
	}
	a := ages(f)
	if len(a) != 3 {
		t.Fatalf("ages %v, want 3 kids", a)
	}
	for kid, v := range a {
		if v != 0 {
			t.Errorf("age of %s = %v right after publishing", kid, v)
		}
	}

	// 3. ten minutes later, publish again: unchanged, every kid 600s old.
	now = t0.Add(10 * time.Minute)
	if code := cli("publish", "--config", cfg, "--metrics-file", metrics); code != 0 {
		t.Fatalf("publish exit %d", code)
	}
	f = read()
	if r := result(f); r != "unchanged" {
		t.Errorf("result %q, want unchanged", r)
	}
	for kid, v := range ages(f) {
		if v != 600 {
			t.Errorf("age of %s = %v, want 600", kid, v)
		}
	}
	lastSuccess := float64(now.Unix())

	// 4. remove a key before any successor was published: the guard refuses. The last success
	// stays, the result says refused.
	if err := os.Remove(filepath.Join(keys, "p256.pub.pem")); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(20 * time.Minute)
	if code := cli("publish", "--config", cfg, "--metrics-file", metrics); code != exitRefused {
		t.Fatalf("publish exit %d, want refused", code)
	}
	f = read()
	if r := result(f); r != "refused" {
		t.Errorf("result %q, want refused", r)
	}
	if v, _ := gauge(f, "jwkspub_last_success_timestamp_seconds"); v != lastSuccess {
		t.Errorf("last success %v, want the earlier %v", v, lastSuccess)
	}
	if v, _ := gauge(f, "jwkspub_last_run_timestamp_seconds"); v != float64(now.Unix()) {
		t.Errorf("last run %v, want %v", v, now.Unix())
	}

	// 5. a source that cannot be read: failed, no sets.
	writeFile(t, cfg, `sets:
  - name: prod
    sources: [file:`+dir+`/missing.pem]
    targets: [file://`+dir+`/out/jwks.json]
`)
	if code := cli("publish", "--config", cfg, "--metrics-file", metrics); code != exitError {
		t.Fatalf("publish exit %d, want 1", code)
	}
	f = read()
	if r := result(f); r != "failed" {
		t.Errorf("result %q, want failed", r)
	}
	if _, ok := f["jwkspub_keys"]; ok {
		t.Error("a run that built nothing reports keys")
	}
}

func selfSigned(t *testing.T, notBefore, notAfter time.Time) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "jwks signer"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
