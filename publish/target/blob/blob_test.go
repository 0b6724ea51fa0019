package blob

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestUnescapeMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want map[string]string
	}{
		{"empty", nil, nil},
		{"s3 as written", map[string]string{"sha256": "ab12", "jwkspub-version": "%28devel%29"}, map[string]string{"sha256": "ab12", "jwkspub-version": "(devel)"}},
		{"gcs capitalises", map[string]string{"Sha256": "ab12", "Jwkspub-Version": "v1.2.0"}, map[string]string{"sha256": "ab12", "jwkspub-version": "v1.2.0"}},
		{"azure hex-escapes the dash", map[string]string{"Jwkspub__0x2d__version": "v1"}, map[string]string{"jwkspub-version": "v1"}},
		{"not an escape", map[string]string{"a__0xzz__b": "v", "c__0x": "w"}, map[string]string{"a__0xzz__b": "v", "c__0x": "w"}},
		{"bad value escape kept", map[string]string{"k": "100%"}, map[string]string{"k": "100%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := UnescapeMetadata(tc.raw); !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsConflict(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "ConditionalRequestConflict"}), true},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "PreconditionFailed"}), true},
		{fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: "AccessDenied"}), false},
	} {
		if got := isConflict(tc.err); got != tc.want {
			t.Errorf("isConflict(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// FuzzUnescapeMetadata: metadata comes from the store, written by anyone with access to the
// bucket; unescaping it must never panic, and keys always come out lower case.
func FuzzUnescapeMetadata(f *testing.F) {
	for _, s := range []string{"Jwkspub__0x2d__version", "__0x__", "__0xffffffffff__", "a__0x41__b__0x", "%zz", "Sha256"} {
		f.Add(s, "v%28x%29")
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		for got := range UnescapeMetadata(map[string]string{k: v}) {
			if got != strings.ToLower(got) {
				t.Errorf("key %q not lower case", got)
			}
		}
	})
}
