package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
)

// The option names of a source or target written as a mapping: their UnmarshalYAML decodes
// these, and checkFields reports any other name in the schema's words.
var (
	sourceFields = []string{"spec", "alg", "kid", "optional", "versions", "ca_file", "token_file"}
	targetFields = []string{"url", "public_url", "public_read"}
)

var (
	sourceType = reflect.TypeFor[SourceConfig]()
	targetType = reflect.TypeFor[TargetConfig]()
)

// checkFields walks the document against the configuration's schema (the yaml names of the
// structs it decodes into) and reports every unknown field at once, by its place in the
// schema ("sets[0].policy"), its line and the nearest known name. yaml.v3's own message
// names Go types ("field polcy not found in type config.SetConfig"), which a reader of the
// file cannot act on.
func checkFields(doc *yaml.Node) []string {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	var errs []string
	walkFields(doc, reflect.TypeFor[Config](), "", &errs)
	return errs
}

func walkFields(n *yaml.Node, t reflect.Type, path string, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode && n.Alias != nil:
		walkFields(n.Alias, t, path, errs)
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			walkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case n.Kind == yaml.MappingNode && t == sourceType:
		// "- vault-oidc:" is a one-key mapping that reads as the spec itself.
		if len(n.Content) == 2 && n.Content[1].Tag == "!!null" {
			return
		}
		checkKeys(n, sourceFields, nil, path, errs)
	case n.Kind == yaml.MappingNode && t == targetType:
		checkKeys(n, targetFields, nil, path, errs)
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		checkKeys(n, names, fields, path, errs)
	}
}

// checkKeys reports the keys of mapping n outside known, and walks the values of the known
// ones whose type is in fields.
func checkKeys(n *yaml.Node, known []string, fields map[string]reflect.Type, path string, errs *[]string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if ft, ok := fields[k.Value]; ok {
			walkFields(v, ft, joinPath(path, k.Value), errs)
			continue
		}
		if fields == nil && contains(known, k.Value) {
			continue
		}
		where := ""
		if path != "" {
			where = path + ": "
		}
		*errs = append(*errs, fmt.Sprintf("%sunknown field %q (line %d)%s", where, k.Value, k.Line, didyoumean.Suffix(k.Value, known)))
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
