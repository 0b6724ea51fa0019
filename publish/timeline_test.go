package publish

import (
	"reflect"
	"testing"

	"github.com/jwkspub/jwkspub/publish/target"
)

// TestLiveHeaders: the status page shows the headers a target stores with the live document,
// metadata sorted, and none where the target stores none (a directory) or nothing is live.
func TestLiveHeaders(t *testing.T) {
	doc := &target.Object{CacheControl: "public, max-age=60", ContentType: "application/jwk-set+json",
		Metadata: map[string]string{"sha256": "ab", "jwkspub-version": "v1"}}
	for _, c := range []struct {
		name       string
		doc        *target.Object
		attributes bool
		want       []LiveHeader
	}{
		{"object store", doc, true, []LiveHeader{{"Cache-Control", "public, max-age=60"}, {"Content-Type", "application/jwk-set+json"},
			{"metadata jwkspub-version", "v1"}, {"metadata sha256", "ab"}}},
		{"directory", doc, false, nil},
		{"nothing live", nil, true, nil},
		{"no headers", &target.Object{}, true, nil},
	} {
		if got := liveHeaders(c.doc, c.attributes); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
