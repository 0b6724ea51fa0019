package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/rotation"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/issuer"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// Config is the configuration file: a list of key sets, each published to its targets.
type Config struct {
	Sets []SetConfig `yaml:"sets"`
}

// SetConfig is one JWK Set: where its keys come from, what they must satisfy, and where the
// document goes.
type SetConfig struct {
	Name        string         `yaml:"name"`
	Issuer      string         `yaml:"issuer"`
	Sources     []SourceConfig `yaml:"sources"`
	Policy      jwks.Policy    `yaml:"policy"`
	KID         string         `yaml:"kid"`
	KIDTemplate string         `yaml:"kid_template"`
	Output      Output         `yaml:"output"`
	Rotation    rotation.Rules `yaml:"rotation"`
	Targets     []TargetConfig `yaml:"targets"`

	line int // where the set starts in the file, for messages
}

// Output controls how the document is written.
type Output struct {
	CacheControl string `yaml:"cache_control"`
	ContentType  string `yaml:"content_type"`
	Pretty       bool   `yaml:"pretty"`
	Gzip         bool   `yaml:"gzip"`
}

// Output defaults.
const (
	DefaultCacheControl = "public, max-age=900"
	DefaultContentType  = "application/json"
)

// SourceConfig is a source spec, written either as a plain string or as a mapping with options.
type SourceConfig struct{ sources.Spec }

// TargetConfig is a target URL, written as a plain string or a mapping with options.
type TargetConfig struct {
	URL string `yaml:"url"`
	// PublicURL is where verifiers fetch the document, for the discovery document's jwks_uri.
	PublicURL string `yaml:"public_url"`
	// PublicRead grants anonymous read on the objects written, where the store has per-object
	// ACLs (s3, gs). Off by default: keep the bucket private behind a CDN.
	PublicRead bool `yaml:"public_read"`
}

// UnmarshalYAML accepts "file:keys/*.pem" or {spec: ..., alg: ..., kid: ..., optional: ...}.
func (s *SourceConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Spec.Spec = n.Value
		return nil
	}
	// "- vault-oidc:" unquoted is YAML for a mapping {vault-oidc: null}: read it as the spec.
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[1].Tag == "!!null" {
		for _, k := range SourceKinds {
			if n.Content[0].Value == k {
				s.Spec.Spec = k + ":"
				return nil
			}
		}
	}
	var m struct {
		Spec      string `yaml:"spec"`
		Alg       string `yaml:"alg"`
		KID       string `yaml:"kid"`
		Optional  bool   `yaml:"optional"`
		Versions  string `yaml:"versions"`
		CAFile    string `yaml:"ca_file"`
		TokenFile string `yaml:"token_file"`
	}
	if err := strictDecode(n, &m, sourceFields...); err != nil {
		return err
	}
	s.Spec = sources.Spec{Spec: m.Spec, Alg: m.Alg, KID: m.KID, Optional: m.Optional, Versions: m.Versions, CAFile: m.CAFile, TokenFile: m.TokenFile}
	return nil
}

// UnmarshalYAML accepts "s3://..." or {url: ..., public_url: ...}.
func (t *TargetConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.URL = n.Value
		return nil
	}
	type plain TargetConfig
	return strictDecode(n, (*plain)(t), targetFields...)
}

// strictDecode decodes a flat mapping node, refusing keys outside known: yaml.v3 does not
// carry the decoder's KnownFields into custom unmarshalers, so they check for themselves.
func strictDecode(n *yaml.Node, dst any, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !contains(known, k.Value) {
			return fmt.Errorf("unknown field %q (line %d)%s", k.Value, k.Line, didyoumean.Suffix(k.Value, known))
		}
	}
	if err := n.Decode(dst); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// LoadConfig reads and validates a configuration file. Unknown fields are errors with their
// line; every validation problem is reported at once.
func LoadConfig(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return ParseConfig(data, name)
}

// ParseConfig parses and validates configuration bytes; name is used in messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	var c Config
	// Unknown fields first, in the schema's words: the decoder's own message names Go types.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		if errs := checkFields(&root); len(errs) > 0 {
			return nil, fmt.Errorf("%s: %s", name, strings.Join(errs, "\n"))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty configuration: add a sets: list", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var doc struct {
		Sets []yaml.Node `yaml:"sets"`
	}
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Sets) == len(c.Sets) {
		for i := range doc.Sets {
			c.Sets[i].line = doc.Sets[i].Line
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

var setNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Validate checks the whole configuration, including the parts only publish uses (targets,
// rotation, issuer, output), and returns every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Sets) == 0 {
		return errors.New(`no sets: add at least one set under "sets"`)
	}
	seen := map[string]bool{}
	for i := range c.Sets {
		s := &c.Sets[i]
		where := fmt.Sprintf("set %d", i+1)
		if s.Name != "" {
			where = fmt.Sprintf("set %q", s.Name)
		}
		if s.line > 0 {
			where = fmt.Sprintf("line %d: %s", s.line, where)
		}
		for _, msg := range s.validate() {
			errs = append(errs, fmt.Errorf("%s: %s", where, msg))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate set name", where))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

// SourceKinds are the spec kinds a configuration may use: the kinds package sources builds.
var SourceKinds = sources.Kinds

// TargetSchemes are the target URL schemes a configuration may use.
var TargetSchemes = []string{"file", "s3", "gs", "azblob", "oci"}

func (s *SetConfig) validate() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if !setNameRE.MatchString(s.Name) {
		add("name %q must be lowercase letters, digits, '.', '_' or '-'", s.Name)
	}
	if s.Issuer != "" {
		if err := served.ValidateIssuer(s.Issuer); err != nil {
			add("issuer: %v", err)
		}
	}
	if len(s.Sources) == 0 {
		add("no sources: add at least one")
	}
	for i, src := range s.Sources {
		if err := ValidateSourceSpec(src.Spec); err != nil {
			add("source %d: %v", i+1, err)
		}
	}
	errs = append(errs, s.Policy.Validate()...)
	switch s.KID {
	case "", jwks.KIDKeepOrThumbprint, jwks.KIDThumbprint, jwks.KIDK8s:
		if s.KIDTemplate != "" {
			add("kid_template is set but kid is %q; set kid: template", s.KID)
		}
	case jwks.KIDTemplate:
		if _, err := jwks.ParseKIDTemplate(s.KIDTemplate); err != nil || s.KIDTemplate == "" {
			add("kid: template needs a valid kid_template (%v)", err)
		}
	default:
		add("kid %q: use keep-or-thumbprint, thumbprint, k8s or template", s.KID)
	}
	if err := rotation.ValidateCacheControl(s.Output.CacheControl); err != nil {
		add("output.cache_control: %v", err)
	}
	switch s.Output.ContentType {
	case "", "application/json", "application/jwk-set+json":
	default:
		add("output.content_type %q: use application/json or application/jwk-set+json", s.Output.ContentType)
	}
	errs = append(errs, rotation.CheckBounds(s.Rotation)...)
	if s.Rotation.MaxRemoved != nil && *s.Rotation.MaxRemoved < 0 {
		add("rotation.max_removed %d is negative", *s.Rotation.MaxRemoved)
	}
	for i, t := range s.Targets {
		if err := ValidateTarget(t.URL); err != nil {
			add("target %d: %v", i+1, err)
		}
		if t.PublicURL != "" {
			if u, err := url.Parse(t.PublicURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
				add("target %d: public_url %q is not an http(s) URL", i+1, t.PublicURL)
			}
		}
		if t.PublicRead && !strings.HasPrefix(t.URL, "s3://") && !strings.HasPrefix(t.URL, "gs://") {
			add("target %d: public_read: only s3:// and gs:// objects have their own ACLs (for azblob set the container's public access level; better, keep it private behind a CDN)", i+1)
		}
	}
	return errs
}

// ValidateSourceSpec checks a spec's kind and argument without reading anything.
func ValidateSourceSpec(s sources.Spec) error {
	kind, arg, ok := strings.Cut(s.Spec, ":")
	if !ok {
		return fmt.Errorf("%q has no kind; use one of %s followed by ':'", s.Spec, strings.Join(SourceKinds, ", "))
	}
	known := kind == "http" // a loopback test issuer; issuer.CheckSpec refuses any other
	for _, k := range SourceKinds {
		known = known || k == kind
	}
	if !known {
		return fmt.Errorf("%q: unknown kind %q (one of %s)", s.Spec, kind, strings.Join(SourceKinds, ", "))
	}
	if arg == "" && kind != "vault-oidc" {
		return fmt.Errorf("%q: nothing after %q", s.Spec, kind+":")
	}
	if strings.HasPrefix(kind, "vault-") {
		if err := vault.CheckVaultSpec(s); err != nil {
			return err
		}
	}
	isURL := kind == "https" || kind == "http"
	if isURL {
		if err := issuer.CheckSpec(s); err != nil {
			return err
		}
	}
	if kind == "aws-kms" {
		if _, err := sources.ParseAWSKMSSpec(arg); err != nil {
			return fmt.Errorf("%q: %w", s.Spec, err)
		}
		if s.Versions != "" {
			return fmt.Errorf("%q: versions applies to vault-transit; list the KMS keys to publish, oldest first (aws-kms:OLD_KEY+alias/NAME)", s.Spec)
		}
	}
	if !isURL && (s.CAFile != "" || s.TokenFile != "") {
		return fmt.Errorf("%q: ca_file and token_file apply to https:// sources", s.Spec)
	}
	if s.Alg != "" {
		if !slices.Contains(jwks.SupportedAlgs, s.Alg) {
			return fmt.Errorf("%q: alg %q is not one of %s", s.Spec, s.Alg, strings.Join(jwks.SupportedAlgs, ", "))
		}
	}
	switch s.KID {
	case "", jwks.KIDKeepOrThumbprint, jwks.KIDThumbprint, jwks.KIDK8s:
	default:
		if _, err := jwks.ParseKIDTemplate(s.KID); err != nil || !strings.Contains(s.KID, "{{") {
			return fmt.Errorf("%q: kid %q is not a kid mode or a template", s.Spec, s.KID)
		}
	}
	switch v := s.Versions; {
	case v == "", v == "all", v == "latest":
	default:
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return fmt.Errorf("%q: versions %q: use all, latest or a positive number", s.Spec, v)
		}
	}
	return nil
}

// ValidateTarget checks a target URL's scheme and shape without contacting it.
func ValidateTarget(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	known := false
	for _, s := range TargetSchemes {
		known = known || s == u.Scheme
	}
	if !known {
		return fmt.Errorf("%q: unknown scheme %q (one of %s)", raw, u.Scheme, strings.Join(TargetSchemes, ", "))
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !path.IsAbs(u.Path) || strings.HasSuffix(u.Path, "/") {
			return fmt.Errorf("%q: use file:///absolute/dir/jwks.json", raw)
		}
	case "oci":
		// The tag, base and platform are parsed by the image target (publish/target/oci),
		// which the command asks before anything is read.
		if u.Host == "" || !strings.Contains(u.Path, ":") {
			return fmt.Errorf("%q: use oci://REGISTRY/REPO:TAG", raw)
		}
	default:
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return fmt.Errorf("%q: use %s://BUCKET/path/jwks.json", raw, u.Scheme)
		}
	}
	return nil
}

// ResolvePaths makes the relative paths of a configuration relative to dir, the directory of
// its file, so that it reads the same keys from wherever jwkspub runs: file: sources are read
// from dir (Spec.Dir; the spec itself, the source's name in the state, stays as written), and
// an https source's ca_file and token_file are joined to it. Absolute paths are left alone.
func (c *Config) ResolvePaths(dir string) {
	for i := range c.Sets {
		for j := range c.Sets[i].Sources {
			s := &c.Sets[i].Sources[j].Spec
			s.Dir = dir
			// An https source's CA bundle and token file are paths in the configuration too.
			for _, f := range []*string{&s.CAFile, &s.TokenFile} {
				if *f != "" && !filepath.IsAbs(*f) {
					*f = filepath.Join(dir, *f)
				}
			}
		}
	}
}

// Set returns the named set.
func (c *Config) Set(name string) (*SetConfig, bool) {
	for i := range c.Sets {
		if c.Sets[i].Name == name {
			return &c.Sets[i], true
		}
	}
	return nil, false
}
