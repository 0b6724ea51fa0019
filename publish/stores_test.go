package publish

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
)

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
	live, _ := os.ReadFile(strings.TrimPrefix(tg.URL, "file://"))
	want, _ := jwks.Encode(rotKeys(t, 1), false)
	if string(live) != string(want) {
		t.Errorf("winner's document overwritten: %s", live)
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
		cfg, err := config.ParseConfig([]byte(y), "jwkspub.yaml")
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
