package report

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/jwks"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics reads b with Prometheus' own text parser: what node_exporter's textfile
// collector accepts is what counts, not what our writer thinks it wrote.
func parseMetrics(t testing.TB, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Prometheus text parser refused the metrics file: %v\n%s", err, b)
	}
	return fams
}

// series returns the gauge values of family name keyed by its labels ("k=v,k=v").
func series(t testing.TB, fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return nil
	}
	if f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("%s: type %v, want gauge", name, f.GetType())
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		out[strings.Join(ls, ",")] = m.GetGauge().GetValue()
	}
	return out
}

func testCert(t testing.TB, notAfter time.Time) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "metrics test"},
		NotBefore:    notAfter.Add(-365 * 24 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestWriteMetrics(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	prod := MetricsSet{
		Name: "prod",
		Keys: []jwks.JWK{
			{KID: "old", X5C: [][]byte{testCert(t, now.Add(36*time.Hour))}},
			{KID: "new"},
			{KID: "next"}, // not published yet: no age series
		},
		FirstPublished: map[string]time.Time{"old": now.Add(-48 * time.Hour), "new": now.Add(-90 * time.Second)},
	}
	staging := MetricsSet{Name: "staging", Keys: []jwks.JWK{{KID: `we"ird\kid` + "\n"}},
		FirstPublished: map[string]time.Time{`we"ird\kid` + "\n": now.Add(-time.Hour)}}
	prevSuccess := now.Add(-24 * time.Hour)

	tests := []struct {
		name        string
		m           Metrics
		wantResult  string
		wantSuccess float64
		wantKeys    map[string]float64
		wantAge     map[string]float64
		wantExpiry  map[string]float64
	}{
		{
			name:        "changed run with two sets",
			m:           Metrics{Result: ResultChanged, Time: now, Sets: []MetricsSet{staging, prod}},
			wantResult:  "changed",
			wantSuccess: float64(now.Unix()),
			wantKeys:    map[string]float64{"set=prod": 3, "set=staging": 1},
			wantAge: map[string]float64{
				"set=prod,kid=old": 48 * 3600, "set=prod,kid=new": 90,
				"set=staging,kid=we\"ird\\kid\n": 3600,
			},
			wantExpiry: map[string]float64{"set=prod,kid=old": 1.5},
		},
		{
			name:        "refused run keeps the earlier success",
			m:           Metrics{Result: ResultRefused, Time: now, LastSuccess: prevSuccess, Sets: []MetricsSet{prod}},
			wantResult:  "refused",
			wantSuccess: float64(prevSuccess.Unix()),
			wantKeys:    map[string]float64{"set=prod": 3},
			wantAge:     map[string]float64{"set=prod,kid=old": 48 * 3600, "set=prod,kid=new": 90},
			wantExpiry:  map[string]float64{"set=prod,kid=old": 1.5},
		},
		{
			name:        "failed before assembling: run series only, no success yet",
			m:           Metrics{Result: ResultFailed, Time: now},
			wantResult:  "failed",
			wantSuccess: 0,
		},
		{
			name:        "unchanged counts as success",
			m:           Metrics{Result: ResultUnchanged, Time: now, LastSuccess: prevSuccess},
			wantResult:  "unchanged",
			wantSuccess: float64(now.Unix()),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMetrics(&b, tt.m); err != nil {
				t.Fatal(err)
			}
			fams := parseMetrics(t, b.Bytes())
			if got := series(t, fams, "jwkspub_last_run_timestamp_seconds")[""]; got != float64(now.Unix()) {
				t.Errorf("last run = %v, want %v", got, now.Unix())
			}
			if got := series(t, fams, "jwkspub_last_success_timestamp_seconds")[""]; got != tt.wantSuccess {
				t.Errorf("last success = %v, want %v", got, tt.wantSuccess)
			}
			res := series(t, fams, "jwkspub_last_run_result")
			if len(res) != len(RunResults) {
				t.Errorf("result series = %v, want one per result", res)
			}
			for _, r := range RunResults {
				want := 0.0
				if string(r) == tt.wantResult {
					want = 1
				}
				if got, ok := res["result="+string(r)]; !ok || got != want {
					t.Errorf("result %s = %v (present %v), want %v", r, got, ok, want)
				}
			}
			checkSeries(t, "keys", series(t, fams, "jwkspub_keys"), tt.wantKeys)
			checkSeries(t, "age", series(t, fams, "jwkspub_key_published_age_seconds"), tt.wantAge)
			checkSeries(t, "expiry", series(t, fams, "jwkspub_cert_expiry_days"), tt.wantExpiry)

			var again bytes.Buffer
			if err := WriteMetrics(&again, tt.m); err != nil || !bytes.Equal(again.Bytes(), b.Bytes()) {
				t.Errorf("second write differs (err %v): output must be deterministic", err)
			}
		})
	}
}

func checkSeries(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s series = %v, want %v", what, got, want)
		return
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s{%s} = %v (present %v), want %v", what, k, g, ok, w)
		}
	}
}

func TestWriteMetricsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jwkspub.prom")
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	set := []MetricsSet{{Name: "prod", Keys: []jwks.JWK{{KID: "a"}}}}

	// First run ever fails: no success recorded.
	if err := WriteMetricsFile(path, Metrics{Result: ResultFailed, Time: t0}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadLastSuccess(path); !got.IsZero() {
		t.Fatalf("last success after a failure = %v, want none", got)
	}
	// A success records its time.
	t1 := t0.Add(time.Hour)
	if err := WriteMetricsFile(path, Metrics{Result: ResultChanged, Time: t1, Sets: set}); err != nil {
		t.Fatal(err)
	}
	// A later partial run keeps the success from the file.
	t2 := t1.Add(time.Hour)
	if err := WriteMetricsFile(path, Metrics{Result: ResultPartial, Time: t2, Sets: set}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, data)
	if got := series(t, fams, "jwkspub_last_success_timestamp_seconds")[""]; got != float64(t1.Unix()) {
		t.Errorf("last success = %v, want the earlier success %v", got, t1.Unix())
	}
	if got := series(t, fams, "jwkspub_last_run_timestamp_seconds")[""]; got != float64(t2.Unix()) {
		t.Errorf("last run = %v, want %v", got, t2.Unix())
	}
	if got := series(t, fams, "jwkspub_last_run_result")["result=partial"]; got != 1 {
		t.Errorf("partial = %v, want 1", got)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 for the collector to read it", st.Mode().Perm())
	}
	// Atomic: nothing but the file itself is left in the directory.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the metrics file", len(ents))
	}
	// A metrics path in a missing directory is an error, not a silent skip.
	if err := WriteMetricsFile(filepath.Join(dir, "missing", "x.prom"), Metrics{Result: ResultChanged, Time: t2}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// FuzzWriteMetrics: whatever a set name or kid holds, the file stays parseable and the
// label values come back unchanged (valid UTF-8 input) - a hostile kid cannot break monitoring
// or inject a series.
func FuzzWriteMetrics(f *testing.F) {
	f.Add("prod", "kid-1")
	f.Add(`a"b`, "c\\d\ne")
	f.Add("", "} 1\nfake_series 2")
	f.Fuzz(func(t *testing.T, set, kid string) {
		now := time.Unix(1_800_000_000, 0)
		m := Metrics{Result: ResultChanged, Time: now, Sets: []MetricsSet{{
			Name: set, Keys: []jwks.JWK{{KID: kid}}, FirstPublished: map[string]time.Time{kid: now.Add(-time.Minute)},
		}}}
		var b bytes.Buffer
		if err := WriteMetrics(&b, m); err != nil {
			t.Fatal(err)
		}
		fams := parseMetrics(t, b.Bytes())
		if len(fams) != 5 {
			t.Fatalf("got %d families, want 5:\n%s", len(fams), b.Bytes())
		}
		age := fams["jwkspub_key_published_age_seconds"].GetMetric()
		if len(age) != 1 {
			t.Fatalf("age series = %d, want 1", len(age))
		}
		wantSet, wantKID := strings.ToValidUTF8(set, "\uFFFD"), strings.ToValidUTF8(kid, "\uFFFD")
		for _, l := range age[0].GetLabel() {
			switch l.GetName() {
			case "set":
				if l.GetValue() != wantSet {
					t.Errorf("set label %q, want %q", l.GetValue(), wantSet)
				}
			case "kid":
				if l.GetValue() != wantKID {
					t.Errorf("kid label %q, want %q", l.GetValue(), wantKID)
				}
			}
		}
	})
}

// TestLastSuccessKeptExactlyAcrossFailures: a failed run keeps the last-success timestamp to
// the millisecond, for every millisecond value (read back through a float, about half of them
// moved back by one).
func TestLastSuccessKeptExactlyAcrossFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwkspub.prom")
	base := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	for ms := range 1000 {
		success := base.Add(time.Duration(ms)*time.Millisecond + time.Duration(ms)*time.Second)
		if err := WriteMetricsFile(path, Metrics{Result: ResultChanged, Time: success}); err != nil {
			t.Fatal(err)
		}
		for range 3 { // several failures in a row must not drift either
			if err := WriteMetricsFile(path, Metrics{Result: ResultFailed, Time: success.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ReadLastSuccess(path)
		if err != nil || !got.Equal(success) {
			t.Fatalf("after failures, last success = %v (%v), want %v", got, err, success)
		}
	}
	for in, want := range map[string]time.Time{
		"0": {}, "-5": {}, "NaN": {}, "1e400": {}, "garbage": {},
		"1764691200.5": time.UnixMilli(1764691200500).UTC(),
		"1.7646912e9":  time.Unix(1764691200, 0).UTC(),
	} {
		if got := parseUnixSeconds(in); !got.Equal(want) {
			t.Errorf("parseUnixSeconds(%q) = %v, want %v", in, got, want)
		}
	}
}
