package rotation

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Rules are a set's rotation settings (the configuration's rotation:): they bound how fast keys
// may leave the set.
type Rules struct {
	// MaxTokenLifetime is the longest a token signed by a key stays valid.
	MaxTokenLifetime Duration `yaml:"max_token_lifetime"`
	// CDNTTL is how long a CDN in front of the target may cache the document, beyond max-age.
	CDNTTL Duration `yaml:"cdn_ttl"`
	// MaxRemoved is how many keys one publication may remove; nil means 1.
	MaxRemoved *int `yaml:"max_removed"`
}

// Duration is a time.Duration that also accepts days ("90d").
type Duration time.Duration

// ParseDuration parses a Go duration or a whole number of days ("90d"). A value too large for
// a time.Duration (about 292 years) is an error, never a wrapped-around one.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q (use 24h, 90m or 7d)", s)
		}
		if n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad duration %q (use 24h, 90m or 7d)", s)
	}
	return v, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads the rotation settings, naming the field in a duration that does not
// parse (Duration alone only knows its line).
func (r *Rules) UnmarshalYAML(n *yaml.Node) error {
	var m struct {
		MaxTokenLifetime yaml.Node `yaml:"max_token_lifetime"`
		CDNTTL           yaml.Node `yaml:"cdn_ttl"`
		MaxRemoved       *int      `yaml:"max_removed"`
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	// The configuration is strict: yaml.v3 does not carry the decoder's KnownFields into
	// custom unmarshalers, so this one checks for itself (as publish's do).
	known := []string{"max_token_lifetime", "cdn_ttl", "max_removed"}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: unknown field %q (known: %s)", k.Line, k.Value, strings.Join(known, ", "))
		}
	}
	if err := n.Decode(&m); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	for _, f := range []struct {
		name string
		node *yaml.Node
		dst  *Duration
	}{{"max_token_lifetime", &m.MaxTokenLifetime, &r.MaxTokenLifetime}, {"cdn_ttl", &m.CDNTTL, &r.CDNTTL}} {
		if f.node.Kind == 0 || f.node.ShortTag() == "!!null" { // absent or empty: unset
			continue
		}
		v, err := ParseDuration(f.node.Value)
		if err != nil {
			return fmt.Errorf("line %d: rotation.%s: %w (at most %s)", f.node.Line, f.name, err, FormatDays(MaxRotationDuration))
		}
		*f.dst = Duration(v)
	}
	r.MaxRemoved = m.MaxRemoved
	return nil
}
