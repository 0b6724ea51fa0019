package sources

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// Env reads keys from one environment variable, through Options.Lookup.
type Env struct {
	Var      string
	Optional bool
	Opts     Options
	Defaults Defaults
}

func (e *Env) String() string { return "env:" + e.Var }

// Keys implements Source.
func (e *Env) Keys(ctx context.Context) ([]Key, error) {
	origin := Origin{Source: e.String()}
	v, ok := e.Opts.lookup(e.Var)
	if !ok || strings.TrimSpace(v) == "" {
		if e.Optional {
			e.Opts.Log().Info("optional source is unset", "source", e.String())
			return nil, nil
		}
		return nil, &Error{Origin: origin, Err: fmt.Errorf("%s is not set", e.Var), Fix: "set it to a PEM public key, base64 of one, a JWK or a JWK Set, or mark the source optional"}
	}
	if err := e.Opts.Charge(origin, len(v)); err != nil {
		return nil, err
	}
	keys, err := ParseEnvValue(v, origin, e.Opts)
	e.Defaults.Apply(keys)
	return keys, err
}

// ParseEnvValue reads keys from an environment variable's value: PEM (raw, or with literal \n
// escapes as .env files write it), base64 of PEM, or JWK / JWK Set JSON.
func ParseEnvValue(v string, origin Origin, opts Options) ([]Key, error) {
	raw := trimBOM([]byte(v))
	data := bytes.TrimSpace(raw)
	if looksLikeJSON(data) {
		return ParseJWK(data, origin, opts)
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		if bytes.Contains(data, []byte(`\n`)) {
			data = bytes.ReplaceAll(data, []byte(`\r\n`), []byte("\n"))
			data = bytes.ReplaceAll(data, []byte(`\n`), []byte("\n"))
		}
		return ParsePEM(data, origin, opts)
	}
	if isSSH(raw) {
		return parseSSH(raw, origin, opts)
	}
	// base64 of PEM (or of JSON): CI secret stores often hold multi-line values this way.
	compact := strings.Join(strings.Fields(string(data)), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(compact)
		if err != nil {
			continue
		}
		if looksLikeJSON(dec) || bytes.Contains(dec, []byte("-----BEGIN ")) {
			at := origin
			at.Location = joinLoc(origin.Location, "(base64)")
			return Parse(dec, at, opts)
		}
	}
	return nil, &Error{Origin: origin, Err: fmt.Errorf("unrecognised value"), Fix: "set a PEM public key (literal \\n escapes allowed), base64 of a PEM, a JWK or a JWK Set"}
}
