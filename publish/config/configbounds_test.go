package config

import (
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

// TestConfigDelayBounds: each delay the guard adds up is refused beyond its documented bound,
// with the field, the value and the bound in the message.
func TestConfigDelayBounds(t *testing.T) {
	set := func(extra string) string { return "sets:\n  - name: a\n    sources: [env:X]\n" + extra }
	tests := []struct {
		name, yaml string
		want       []string // empty: accepted
	}{
		{"max-age at the bound", set("    output: {cache_control: \"public, max-age=31536000, stale-while-revalidate=31536000\"}\n"), nil},
		{"max-age beyond the bound", set("    output: {cache_control: \"public, max-age=9300000000\"}\n"),
			[]string{"output.cache_control", "max-age=9300000000", "bound of 31536000 seconds (365d)"}},
		{"stale-while-revalidate beyond the bound", set("    output: {cache_control: \"public, max-age=60, stale-while-revalidate=31536001\"}\n"),
			[]string{"output.cache_control", "stale-while-revalidate=31536001", "bound of 31536000"}},
		{"s-maxage beyond int64", set("    output: {cache_control: \"s-maxage=99999999999999999999\"}\n"),
			[]string{"output.cache_control", "s-maxage=99999999999999999999", "bound of 31536000"}},
		{"a signed max-age", set("    output: {cache_control: \"max-age=+60\"}\n"), []string{`"max-age" needs a number of seconds`}},
		{"lifetime at the bound", set("    rotation: {max_token_lifetime: 365d, cdn_ttl: 8760h}\n"), nil},
		{"lifetime beyond the bound", set("    rotation: {max_token_lifetime: 400d}\n"),
			[]string{"rotation.max_token_lifetime 400d is more than the bound of 365d"}},
		{"cdn_ttl beyond the bound", set("    rotation: {cdn_ttl: 9000h}\n"),
			[]string{"rotation.cdn_ttl 375d is more than the bound of 365d"}},
		{"cdn_ttl not whole days", set("    rotation: {cdn_ttl: 8761h}\n"),
			[]string{"rotation.cdn_ttl 8761h0m0s is more than the bound of 365d"}},
		{"lifetime beyond a time.Duration", set("    rotation: {max_token_lifetime: 200000d}\n"),
			[]string{"line 4: rotation.max_token_lifetime", `"200000d" is out of range`, "at most 365d"}},
		{"cdn_ttl that does not parse", set("    rotation: {cdn_ttl: soon}\n"),
			[]string{"line 4: rotation.cdn_ttl", `bad duration "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), "c.yaml")
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
	// A configuration built in code (the --source case) is checked the same way.
	s := &SetConfig{Name: "a"}
	s.Sources = []SourceConfig{{}}
	s.Rotation.CDNTTL = rotation.Duration(400 * 24 * time.Hour)
	if msgs := rotation.CheckBounds(s.Rotation); len(msgs) != 1 || !strings.Contains(msgs[0], "rotation.cdn_ttl 400d") {
		t.Errorf("CheckBounds = %v", msgs)
	}
}

func TestRotationEmptyValues(t *testing.T) {
	c, err := ParseConfig([]byte("sets:\n  - name: a\n    sources: [env:X]\n    rotation:\n      max_token_lifetime:\n      max_removed: 2\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Sets[0].Rotation; r.MaxTokenLifetime != 0 || r.CDNTTL != 0 || r.MaxRemoved == nil || *r.MaxRemoved != 2 {
		t.Errorf("rotation = %+v", r)
	}
}
