package report

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

// RunResult is the outcome of one jwkspub run as the metrics file reports it.
type RunResult string

// The run results, one per exit-code class: an alert can fire on anything but unchanged and
// changed.
const (
	ResultUnchanged RunResult = "unchanged" // success, nothing to write
	ResultChanged   RunResult = "changed"   // success, something was (or, for diff, would be) written
	ResultRefused   RunResult = "refused"   // exit 3: policy or rotation guard
	ResultFailed    RunResult = "failed"    // exit 1 or 64
	ResultPartial   RunResult = "partial"   // exit 4: some targets are stale
)

// RunResults lists every result, in the order the metrics file writes them: each run writes
// all of them (1 for this run's, 0 for the others) so a query never sees a stale 1.
var RunResults = []RunResult{ResultUnchanged, ResultChanged, ResultRefused, ResultFailed, ResultPartial}

// Success reports whether r counts as a successful run (it moves the last-success timestamp).
func (r RunResult) Success() bool { return r == ResultUnchanged || r == ResultChanged }

// Metrics is what one run reports to monitoring.
type Metrics struct {
	// Result is the run's outcome.
	Result RunResult
	// Time is when the run happened.
	Time time.Time
	// LastSuccess is when the last successful run happened. Zero means unknown: a successful
	// run uses Time, a failed one keeps what the previous file said (see WriteMetricsFile).
	LastSuccess time.Time
	// Sets are the sets the run assembled. A run that failed before assembling anything has
	// none, and the file then holds only the run series.
	Sets []MetricsSet
}

// MetricsSet is one set's keys as published (or about to be).
type MetricsSet struct {
	Name string
	Keys []jwks.JWK
	// FirstPublished is, per kid, when the key was first published (from the state object).
	// Keys not in it get no age series: they are not live yet.
	FirstPublished map[string]time.Time
}

// Metric names, documented in the README's monitoring section.
const (
	metricLastRun     = "jwkspub_last_run_timestamp_seconds"
	metricLastSuccess = "jwkspub_last_success_timestamp_seconds"
	metricResult      = "jwkspub_last_run_result"
	metricKeys        = "jwkspub_keys"
	metricKeyAge      = "jwkspub_key_published_age_seconds"
	metricCertExpiry  = "jwkspub_cert_expiry_days"
)

// WriteMetrics writes m in the Prometheus text exposition format (version 0.0.4), the format
// node_exporter's textfile collector reads. Series are sorted, so the same input gives the same
// bytes.
func WriteMetrics(w io.Writer, m Metrics) error {
	var b bytes.Buffer
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family(metricLastRun, "gauge", "Unix time of the last jwkspub run.")
	fmt.Fprintf(&b, "%s %s\n", metricLastRun, unixSeconds(m.Time))
	family(metricLastSuccess, "gauge", "Unix time of the last successful jwkspub run (0: none yet).")
	last := m.LastSuccess
	if m.Result.Success() {
		last = m.Time
	}
	fmt.Fprintf(&b, "%s %s\n", metricLastSuccess, unixSeconds(last))
	family(metricResult, "gauge", "1 for the result of the last run (unchanged, changed, refused, failed, partial), 0 for the others.")
	for _, r := range RunResults {
		v := 0
		if r == m.Result {
			v = 1
		}
		fmt.Fprintf(&b, "%s{result=%s} %d\n", metricResult, quoteLabel(string(r)), v)
	}

	sets := append([]MetricsSet(nil), m.Sets...)
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	if len(sets) > 0 {
		family(metricKeys, "gauge", "Number of keys in the set.")
		for _, s := range sets {
			fmt.Fprintf(&b, "%s{set=%s} %d\n", metricKeys, quoteLabel(s.Name), len(s.Keys))
		}
	}
	type sample struct {
		set, kid string
		v        float64
	}
	var ages, expiries []sample
	for _, s := range sets {
		for _, k := range s.Keys {
			if t, ok := s.FirstPublished[k.KID]; ok && !t.IsZero() {
				ages = append(ages, sample{s.Name, k.KID, m.Time.Sub(t).Seconds()})
			}
			if len(k.X5C) > 0 {
				// The leaf is first; policy already refused a chain that does not parse, so a
				// failure here only loses the series, never the run.
				if c, err := x509.ParseCertificate(k.X5C[0]); err == nil {
					expiries = append(expiries, sample{s.Name, k.KID, c.NotAfter.Sub(m.Time).Hours() / 24})
				}
			}
		}
	}
	bySetKID := func(xs []sample) {
		sort.Slice(xs, func(i, j int) bool {
			if xs[i].set != xs[j].set {
				return xs[i].set < xs[j].set
			}
			return xs[i].kid < xs[j].kid
		})
	}
	bySetKID(ages)
	bySetKID(expiries)
	if len(ages) > 0 {
		family(metricKeyAge, "gauge", "Seconds since the key was first published.")
		for _, a := range ages {
			fmt.Fprintf(&b, "%s{set=%s,kid=%s} %s\n", metricKeyAge, quoteLabel(a.set), quoteLabel(a.kid), formatFloat(a.v))
		}
	}
	if len(expiries) > 0 {
		family(metricCertExpiry, "gauge", "Days until the key's x5c leaf certificate expires (negative: expired).")
		for _, e := range expiries {
			fmt.Fprintf(&b, "%s{set=%s,kid=%s} %s\n", metricCertExpiry, quoteLabel(e.set), quoteLabel(e.kid), formatFloat(e.v))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteMetricsFile writes m to path atomically (a temporary file in the same directory, then a
// rename), so the textfile collector never reads half a file. When m.LastSuccess is zero and
// the run failed, the previous file's last-success timestamp is kept: a failing cron job must
// not look as if it never succeeded, nor as if it just did.
func WriteMetricsFile(path string, m Metrics) error {
	if m.LastSuccess.IsZero() && !m.Result.Success() {
		prev, err := ReadLastSuccess(path)
		if err != nil {
			return err
		}
		m.LastSuccess = prev
	}
	var b bytes.Buffer
	if err := WriteMetrics(&b, m); err != nil {
		return err
	}
	// 0644: node_exporter usually runs as another user.
	return publish.WriteFileAtomic(path, b.Bytes(), 0o644)
}

// ReadLastSuccess returns the last-success timestamp a metrics file written by WriteMetricsFile
// holds; zero when the file does not exist or holds none.
func ReadLastSuccess(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading metrics file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), metricLastSuccess+" ")
		if !ok {
			continue
		}
		return parseUnixSeconds(strings.TrimSpace(v)), nil
	}
	return time.Time{}, nil
}

// parseUnixSeconds reads the decimal seconds unixSeconds writes, digit for digit: through a
// float64, 1764689012.345 comes back as …012.344999 and the kept timestamp moved back a
// millisecond on every failed run. Anything else parses as a float, rounded to milliseconds;
// zero when it is no positive number.
func parseUnixSeconds(v string) time.Time {
	whole, frac, _ := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err == nil && len(frac) <= 9 && strings.Trim(frac, "0123456789") == "" && sec >= 0 {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if sec == 0 && ns == 0 {
			return time.Time{}
		}
		return time.Unix(sec, ns).UTC()
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || f > 1<<53 {
		return time.Time{}
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC()
}

func unixSeconds(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return formatFloat(float64(t.UnixMilli()) / 1000)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// quoteLabel quotes a label value as the text format requires: backslash, double quote and
// newline escaped. Kids come from input, so this is the only thing standing between a hostile
// kid and a file the collector rejects.
func quoteLabel(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	// The format is UTF-8: invalid bytes become U+FFFD rather than a file the parser refuses.
	for _, r := range strings.ToValidUTF8(v, "\uFFFD") {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
