// Package schematest checks jwkspub's JSON outputs against the JSON Schema files checked in
// under publish/report/schema, the documented shape of each --format json output. Only tests
// import it.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// baseID is the $id prefix of every schema file; they refer to each other relatively.
const baseID = "https://github.com/jwkspub/jwkspub/publish/report/schema/"

// Dir is the directory of the schema files, found from this file's own path so tests of any
// package (and the scripts they run) reach them.
func Dir() string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", "publish", "report", "schema")
}

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	loadErr  error
)

// load compiles every schema file once per test binary: draft 2020-12, with "format" asserted
// (a time must be RFC 3339), and no network: each file is registered under its $id.
func load() (map[string]*jsonschema.Schema, error) {
	once.Do(func() {
		files, err := filepath.Glob(filepath.Join(Dir(), "*.schema.json"))
		if err != nil || len(files) == 0 {
			loadErr = fmt.Errorf("no schema files in %s: %v", Dir(), err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				loadErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				loadErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			var head struct {
				ID string `json:"$id"`
			}
			if err := json.Unmarshal(data, &head); err != nil || head.ID != baseID+filepath.Base(f) {
				loadErr = fmt.Errorf("%s: $id %q, want %q", f, head.ID, baseID+filepath.Base(f))
				return
			}
			if err := c.AddResource(head.ID, doc); err != nil {
				loadErr = err
				return
			}
		}
		compiled = map[string]*jsonschema.Schema{}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".schema.json")
			s, err := c.Compile(baseID + filepath.Base(f))
			if err != nil {
				loadErr = fmt.Errorf("compiling %s: %w", f, err)
				return
			}
			compiled[name] = s
		}
	})
	return compiled, loadErr
}

// Validate checks doc, one JSON output, against the schema of name ("diff", "publish",
// "status", "build", "verify").
func Validate(name string, doc []byte) error {
	schemas, err := load()
	if err != nil {
		return err
	}
	s, ok := schemas[name]
	if !ok {
		return fmt.Errorf("no schema %q in %s", name, Dir())
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}
