package publish

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/sources"
)

// TestRefusalsListBounded: a refusal with a hundred thousand violations prints twenty of them
// and counts the rest (one such set printed 38 MB to stderr).
func TestRefusalsListBounded(t *testing.T) {
	vs := make([]jwks.Violation, 100_000)
	gs := make([]GuardViolation, 25)
	for i := range vs {
		vs[i] = jwks.Violation{Origin: sources.Origin{Source: "file:big.json", Location: fmt.Sprintf("key %d", i)}, Rule: "duplicate-key", Detail: "same key", Fix: "publish it once"}
	}
	for i := range gs {
		gs[i] = GuardViolation{Set: "s", Target: "file:///t", KID: fmt.Sprintf("k%d", i), Rule: rotation.RuleTooEarly, Detail: "d", Fix: "f"}
	}
	tests := []struct {
		err         error
		lines       int
		first, last string
		notIn       string
	}{
		{&jwks.PolicyError{Violations: vs}, 22, "refused by policy: 100000 violation(s)", "  … and 99,980 more", "key 20:"},
		{&jwks.PolicyError{Violations: vs[:20]}, 21, "refused by policy: 20 violation(s)", "  file:big.json key 19: duplicate-key: same key (fix: publish it once)", "more"},
		{&GuardError{Violations: gs}, 22, "refused by the rotation guard, nothing written: 25 violation(s)", "  … and 5 more", `kid "k20"`},
	}
	for _, tt := range tests {
		lines := strings.Split(tt.err.Error(), "\n")
		if len(lines) != tt.lines || lines[0] != tt.first || lines[len(lines)-1] != tt.last || strings.Contains(tt.err.Error(), tt.notIn) {
			t.Errorf("%T with %d lines:\n%s", tt.err, len(lines), strings.Join(lines[:min(len(lines), 30)], "\n"))
		}
	}
}

// TestBuildWarningsBounded: thirty copies of one key under one kid are published once, with
// twenty warnings logged and the rest counted.
func TestBuildWarningsBounded(t *testing.T) {
	k := parseJWK(t, `{"kty":"OKP","crv":"Ed25519","kid":"a","x":"`+rfc8037X+`"}`)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	set, err := Build(context.Background(), BuildOptions{Set: &config.SetConfig{Name: "s"}, Sources: []sources.Source{fakeSource{name: "a", keys: slices.Repeat([]sources.Key{k}, 30)}}, Logger: log})
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("%v %v", set, err)
	}
	if n := strings.Count(logs.String(), "published once"); n != sources.ListLimit {
		t.Errorf("%d warnings logged, want %d", n, sources.ListLimit)
	}
	if !strings.Contains(logs.String(), `msg="… and 9 more warnings" set=s`) {
		t.Errorf("logs:\n%s", logs.String())
	}
}
