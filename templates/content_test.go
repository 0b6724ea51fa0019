package templates

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

// TestContentModTime pins the mapping `jwkspub render` and the image target share: changing it
// changes every served ETag.
func TestContentModTime(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{"", "2020-04-06T06:39:12Z"},
		{`{"keys":[]}`, ""},
	} {
		got := ContentModTime([]byte(tc.data))
		if got.Before(ModTimeEpoch) || got.After(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%q: %s outside 1990-2024", tc.data, got)
		}
		if tc.want != "" && got.Format(time.RFC3339) != tc.want {
			t.Errorf("%q: %s, want %s", tc.data, got.Format(time.RFC3339), tc.want)
		}
	}
}

// Gzip is deterministic (equal input, equal bytes: equal validators) and round-trips.
func TestGzip(t *testing.T) {
	in := []byte(`{"keys":[{"kty":"OKP"}]}`)
	a, b := Gzip(in), Gzip(in)
	if !bytes.Equal(a, b) {
		t.Fatal("two compressions of one document differ")
	}
	r, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(out, in) || !r.ModTime.IsZero() || r.Name != "" {
		t.Fatalf("round trip: %q %v, header time %v name %q", out, err, r.ModTime, r.Name)
	}
}
