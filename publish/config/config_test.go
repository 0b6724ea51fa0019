package config

import (
	"github.com/jwkspub/jwkspub/sources"
	"strings"
	"testing"
	"time"

	"github.com/jwkspub/jwkspub/publish/rotation"
)

const fullConfig = `sets:
  - name: prod
    issuer: https://auth.example.com
    sources:
      - file:keys/*.pem
      - spec: env-prefix:JWT_
        alg: PS256
        kid: thumbprint
        optional: true
      - spec: vault-transit:transit/jwt
        versions: "3"
        kid: "{{.Name}}-v{{.Version}}"
      - vault-oidc:
    policy: {min_rsa_bits: 3072, max_keys: 10, allowed_algs: [RS256, PS256, ES256, EdDSA], rsa_exponents: [3]}
    kid: keep-or-thumbprint
    output: {cache_control: "public, max-age=600, stale-while-revalidate=60", content_type: application/jwk-set+json, gzip: true}
    rotation: {max_token_lifetime: 90d, cdn_ttl: 5m, max_removed: 2}
    targets:
      - file:///srv/www/.well-known/jwks.json
      - url: s3://bucket/.well-known/jwks.json?region=eu-west-1
        public_url: https://auth.example.com/.well-known/jwks.json
      - gs://bucket/jwks.json
      - azblob://container/jwks.json
      - oci://registry.example.com/jwks:prod?base=nginx
  - name: staging
    sources: [env:STAGING_JWKS]
    kid: template
    kid_template: "{{.Thumbprint}}"
`

func TestParseConfigFull(t *testing.T) {
	c, err := ParseConfig([]byte(fullConfig), "jwkspub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Sets[0]
	if p.Sources[1].Alg != "PS256" || !p.Sources[1].Optional || p.Sources[2].Versions != "3" || p.Sources[3].Spec.Spec != "vault-oidc:" {
		t.Errorf("sources = %+v", p.Sources)
	}
	if time.Duration(p.Rotation.MaxTokenLifetime) != 90*24*time.Hour || time.Duration(p.Rotation.CDNTTL) != 5*time.Minute || *p.Rotation.MaxRemoved != 2 {
		t.Errorf("rotation = %+v", p.Rotation)
	}
	if p.Targets[1].PublicURL == "" || p.Policy.MinRSABits != 3072 || !p.Output.Gzip {
		t.Errorf("set = %+v", p)
	}
	if rotation.MaxAge(p.Output.CacheControl) != 600*time.Second {
		t.Errorf("max-age = %v", rotation.MaxAge(p.Output.CacheControl))
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top field", "sets: []\nextra: 1\n", []string{`c.yaml: unknown field "extra" (line 2)`}},
		{"unknown top field, near", "set:\n  - name: a\n", []string{`c.yaml: unknown field "set" (line 1); did you mean "sets"?`}},
		{"unknown set field", "sets:\n  - name: a\n    sources: [env:X]\n    polcy: {}\n", []string{`sets[0]: unknown field "polcy" (line 4); did you mean "policy"?`}},
		{"unknown policy field", "sets:\n  - name: a\n    sources: [env:X]\n    policy: {max_kyes: 3}\n", []string{`sets[0].policy: unknown field "max_kyes" (line 4); did you mean "max_keys"?`}},
		{"unknown rotation field", "sets:\n  - name: a\n    sources: [env:X]\n    rotation: {cdn_tll: 5m}\n", []string{`sets[0].rotation: unknown field "cdn_tll" (line 4); did you mean "cdn_ttl"?`}},
		{"unknown output field", "sets:\n  - name: a\n    sources: [env:X]\n    output: {colour: red}\n", []string{`sets[0].output: unknown field "colour" (line 4)`}},
		{"unknown source option", "sets:\n  - name: a\n    sources:\n      - spec: env:X\n        algo: RS256\n", []string{`sets[0].sources[0]: unknown field "algo" (line 5); did you mean "alg"?`}},
		{"unknown target option", "sets:\n  - name: a\n    sources: [env:X]\n    targets:\n      - {url: 'file:///a/b', public_ur: x}\n", []string{`sets[0].targets[0]: unknown field "public_ur" (line 5); did you mean "public_url"?`}},
		{"every unknown field at once", "sets:\n  - name: a\n    polcy: {}\n  - name: b\n    isuer: x\n", []string{`sets[0]: unknown field "polcy" (line 3)`, `sets[1]: unknown field "isuer" (line 5); did you mean "issuer"?`}},
		{"empty", "", []string{"empty configuration"}},
		{"no sets", "sets: []\n", []string{"no sets"}},
		{"everything wrong at once", `sets:
  - name: Bad Name
    issuer: http://auth.example.com
    sources: [ftp:x, "file:", {spec: "env:X", alg: HS256}, {spec: "env:Y", versions: "0"}]
    policy: {min_rsa_bits: 1024, allowed_algs: [none], rsa_exponents: [4]}
    kid: random
    output: {cache_control: "no-store", content_type: text/plain}
    rotation: {max_removed: -1}
    targets: ["http://x/y", "file://relative/jwks.json", "s3://bucket", "oci://reg/repo"]
  - name: dup
    sources: [env:X]
  - name: dup
    sources: [env:X]
`, []string{
			`line 2: set "Bad Name": name`, "issuer:", `unknown kind "ftp"`, `nothing after "file:"`, `alg "HS256"`, `versions "0"`,
			"min_rsa_bits 1024 is below the floor of 2048", `"none" is not a supported`, "rsa_exponents: 4", `kid "random"`,
			`directive "no-store"`, "content_type", "max_removed -1", `unknown scheme "http"`, "file:///absolute", "s3://BUCKET", "oci://REGISTRY",
			`line 12: set "dup": duplicate set name`,
		}},
		{"issuer sources", `sets:
  - name: a
    sources:
      - http://issuer.example/jwks
      - {spec: "https://issuer.example/jwks", versions: all}
      - {spec: "file:k.pem", ca_file: ca.pem}
      - {spec: "env:X", token_file: t}
      - {spec: "aws-kms:alias/jwt", versions: all}
      - "aws-kms:k++alias/jwt"
      - {spec: "aws-kms:alias/jwt", ca_file: ca.pem}
`, []string{`"aws-kms:alias/jwt": versions applies to vault-transit`, `"aws-kms:k++alias/jwt": an empty key in the list`, `"aws-kms:alias/jwt": ca_file and token_file apply to https:// sources`, "line 2", `"http://issuer.example/jwks" is plain http to a non-loopback host`, "versions applies to vault-transit",
			`"file:k.pem": ca_file and token_file apply to https:// sources`, `"env:X": ca_file and token_file apply`}},
		{"template without text", "sets:\n  - name: a\n    sources: [env:X]\n    kid: template\n", []string{"kid_template"}},
		{"bad duration", "sets:\n  - name: a\n    sources: [env:X]\n    rotation: {max_token_lifetime: forever}\n", []string{"line 4", `bad duration "forever"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml), "c.yaml")
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
}

func TestIssuerSourceOptions(t *testing.T) {
	c, err := ParseConfig([]byte(`sets:
  - name: a
    sources:
      - https://issuer.example/.well-known/openid-configuration
      - {spec: "http://127.0.0.1:8080/jwks", ca_file: /etc/ca.pem, token_file: /run/token, optional: true}
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.Sets[0].Sources[1].Spec
	if got.CAFile != "/etc/ca.pem" || got.TokenFile != "/run/token" || !got.Optional {
		t.Fatalf("options %+v", got)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte("sets:\n  - name: a\n    sources: [env:X]\n"))
	f.Add([]byte("sets: [{name: a, sources: [{spec: 'file:x', kid: '{{.Name}}'}], rotation: {max_token_lifetime: 7d}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.yaml")
		if err == nil && (c == nil || len(c.Sets) == 0) {
			t.Fatal("accepted a configuration without sets")
		}
		if err == nil {
			// Whatever is accepted must validate again the same way.
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted config fails Validate: %v", err)
			}
		}
	})
}

// TestResolvePathsKeepsTheSpec: a relative file: source is read from the configuration's
// directory, but keeps its name as written, which the state records: a cron job running from
// another directory must not make every key's source look new.
func TestResolvePathsKeepsTheSpec(t *testing.T) {
	c := &Config{Sets: []SetConfig{{Name: "prod", Sources: []SourceConfig{
		{Spec: sources.Spec{Spec: "file:keys/*.pem"}},
		{Spec: sources.Spec{Spec: "https://issuer.example/jwks", CAFile: "ca.pem", TokenFile: "/run/token"}},
	}}}}
	c.ResolvePaths("/etc/jwkspub")
	got := c.Sets[0].Sources
	if got[0].Spec.Spec != "file:keys/*.pem" || got[0].Spec.Dir != "/etc/jwkspub" {
		t.Errorf("file source: %+v, want the spec as written and Dir /etc/jwkspub", got[0].Spec)
	}
	if got[1].Spec.CAFile != "/etc/jwkspub/ca.pem" || got[1].Spec.TokenFile != "/run/token" {
		t.Errorf("https source: ca_file %q, token_file %q", got[1].Spec.CAFile, got[1].Spec.TokenFile)
	}
}
