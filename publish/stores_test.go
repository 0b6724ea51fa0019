package publish

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
			if got := unescapeMetadata(tc.raw); !maps.Equal(got, tc.want) {
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

// A directory target refuses to replace a document that appeared after it was read as
// absent (fileblob's create-only write): the first-create race on file://.
func TestFileFirstCreateRace(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	cfg := testSet("prod")
	p, err := PlanTarget(t.Context(), tg, PlanOptions{Set: cfg, Keys: rotKeys(t, 2), Now: t0, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publishAt(t, fileTarget(t, dir), cfg, rotKeys(t, 1), t0, GuardOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Publish(t.Context(), p, PublishOptions{})
	var ge *GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("got %v, want the re-plan's guard refusal", err)
	}
	live, _ := tg.read(t.Context(), tg.Key)
	want, _ := Encode(rotKeys(t, 1), false)
	if string(live.Body) != string(want) {
		t.Errorf("winner's document overwritten: %s", live.Body)
	}
}

// public_read is an opt-in only where the store has per-object ACLs.
func TestPublicReadConfig(t *testing.T) {
	for _, tc := range []struct {
		url, wantErr string
	}{
		{"s3://b/.well-known/jwks.json", ""},
		{"gs://b/.well-known/jwks.json", ""},
		{"azblob://c/.well-known/jwks.json", "target 1: public_read: only s3:// and gs://"},
		{"file:///srv/www/.well-known/jwks.json", "target 1: public_read: only s3:// and gs://"},
	} {
		y := "sets:\n  - name: prod\n    sources: [\"file:k.pem\"]\n    targets:\n      - url: " + tc.url + "\n        public_read: true\n"
		cfg, err := ParseConfig([]byte(y), "jwkspub.yaml")
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.wantErr == "" && !cfg.Sets[0].Targets[0].PublicRead:
			t.Errorf("%s: public_read not read", tc.url)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: got %v, want %q", tc.url, err, tc.wantErr)
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
		for got := range unescapeMetadata(map[string]string{k: v}) {
			if got != strings.ToLower(got) {
				t.Errorf("key %q not lower case", got)
			}
		}
	})
}

// When the competing write already published the same document, the re-plan has nothing to
// do: Publish succeeds without writing again.
func TestPublishAfterCompetitorPublishedTheSame(t *testing.T) {
	dir := t.TempDir()
	tg := fileTarget(t, dir)
	cfg := testSet("prod")
	p, err := PlanTarget(t.Context(), tg, PlanOptions{Set: cfg, Keys: rotKeys(t, 1), Now: t0, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var attempts []int
	got, err := Publish(t.Context(), p, PublishOptions{BeforeWrite: func(_ *Plan, attempt int) {
		attempts = append(attempts, attempt)
		if _, err := publishAt(t, fileTarget(t, dir), cfg, rotKeys(t, 1), t0, GuardOptions{}); err != nil {
			t.Fatal(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Changed() || fmt.Sprint(attempts) != "[1]" {
		t.Errorf("after the competitor published the same set: attempts %v, plan %v", attempts, got.Objects)
	}
}
