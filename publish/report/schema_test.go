package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/jwkspub/jwkspub/internal/schematest"
)

// TestGoldenJSONMatchesSchemas checks the pinned JSON outputs against the schema files, and
// that the schemas are strict: each mutation of a valid output is one a consumer would trip
// on, and must fail.
func TestGoldenJSONMatchesSchemas(t *testing.T) {
	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	timeline := func(v map[string]any) map[string]any {
		return v["timelines"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name, golden, schema string
		mutate               func(v map[string]any)
		valid                bool
	}{
		{name: "plan", golden: "plan.json", schema: "diff", valid: true},
		{name: "refused plan", golden: "plan-refused.json", schema: "diff", valid: true},
		{name: "status", golden: "status.json", schema: "status", valid: true},
		{name: "no sign_with yet", golden: "status.json", schema: "status", valid: true,
			mutate: func(v map[string]any) { timeline(v)["sign_with"] = nil }},

		{name: "refused missing", golden: "plan-refused.json", schema: "diff", mutate: func(v map[string]any) { delete(v, "refused") }},
		{name: "a plan's refused missing", golden: "plan-refused.json", schema: "diff",
			mutate: func(v map[string]any) { delete(v["plans"].([]any)[0].(map[string]any), "refused") }},
		{name: "refused but changed", golden: "plan-refused.json", schema: "diff", mutate: func(v map[string]any) { v["changed"] = true }},
		{name: "refused without a reason", golden: "plan-refused.json", schema: "diff", mutate: func(v map[string]any) { v["violations"] = []any{} }},
		{name: "a violation without its fix", golden: "plan-refused.json", schema: "diff",
			mutate: func(v map[string]any) { delete(v["violations"].([]any)[0].(map[string]any), "fix") }},
		{name: "schema_version 2", golden: "plan.json", schema: "diff", mutate: func(v map[string]any) { v["schema_version"] = 2 }},
		{name: "another command", golden: "plan.json", schema: "diff", mutate: func(v map[string]any) { v["command"] = "publish" }},
		{name: "an undocumented field", golden: "plan.json", schema: "diff", mutate: func(v map[string]any) { v["verdict"] = "ok" }},
		{name: "a duration as a string", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { timeline(v)["safe_delay_seconds"] = "1m0s" }},
		{name: "the old duration field", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { timeline(v)["safe_delay"] = "1m0s" }},
		{name: "sign_with as a bare kid", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { timeline(v)["sign_with"] = "k2" }},
		{name: "a time not in RFC 3339", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { v["now"] = "Tue, 03 Mar 2026 12:00:00 GMT" }},
		{name: "an impossible date", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { v["now"] = "2026-02-30T12:00:00Z" }},
		{name: "a time not in UTC", golden: "status.json", schema: "status",
			mutate: func(v map[string]any) { v["now"] = "2026-03-03T13:00:00+01:00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := read(tt.golden)
			if tt.mutate != nil {
				tt.mutate(v)
			}
			doc, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			err = schematest.Validate(tt.schema, doc)
			if tt.valid && err != nil {
				t.Errorf("valid output rejected: %v", err)
			}
			if !tt.valid && err == nil {
				t.Errorf("schema %s accepted it:\n%s", tt.schema, doc)
			}
		})
	}
}
