package jwks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jwkspub/jwkspub/sources"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Policy is the policy the document must satisfy, usually its set's.
	Policy Policy
	// Now is the time certificates are checked against. Zero means do not check validity.
	Now time.Time
}

// Verify checks an existing JWK Set document against the policy with the same rules build
// applies (Assemble), and also refuses private members and keys that cannot be parsed. Every
// problem is reported at once in a *PolicyError. A document that is not a JSON object at all is
// an ordinary error. On success the returned set holds the document's keys, sorted by kid;
// keys that carry no kid, alg or use get a warning, since build always writes them.
func Verify(doc []byte, origin sources.Origin, opts VerifyOptions) (*Set, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("%s: not a JSON object: %w", origin, err)
	}
	var (
		violations []Violation
		warnings   []string
		keys       []sources.Key
	)
	bad := func(at sources.Origin, key, rule, detail, fix string) {
		violations = append(violations, Violation{Origin: at, Key: key, Rule: rule, Detail: detail, Fix: fix})
	}
	rawKeys, ok := top["keys"]
	var elems []json.RawMessage
	if !ok {
		bad(origin, "", "jwks", `the document has no "keys" member; it is not a JWK Set`, `publish {"keys": [...]} (RFC 7517 §5)`)
	} else if err := json.Unmarshal(rawKeys, &elems); err != nil {
		bad(origin, "", "jwks", `"keys" is not an array`, `publish {"keys": [...]} (RFC 7517 §5)`)
	}
	for name := range top {
		if name != "keys" {
			warnings = append(warnings, fmt.Sprintf("%s: top-level member %q is not part of a JWK Set jwkspub writes", origin, name))
		}
	}
	missing := make([][]string, 0, len(elems))
	for i, raw := range elems {
		at := origin
		at.Location = strings.TrimSpace(origin.Location + fmt.Sprintf(" key %d", i+1))
		lbl := "" // the origin names the key's index
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			bad(at, lbl, "jwk", "not a JSON object", `every element of "keys" must be a JWK object`)
			continue
		}
		// A key with private members is still checked against every other rule; Assemble
		// refuses the members by name.
		ks, err := sources.ParseJWK(raw, at, sources.Options{ReportPrivate: true})
		if err != nil {
			var se *sources.Error
			detail, fix := err.Error(), "correct the JWK (RFC 7517, RFC 7518 §6)"
			if errors.As(err, &se) {
				detail, fix = se.Err.Error(), se.Fix
			}
			if kid, ok := stringMember(m, "kid"); ok && kid != "" {
				lbl = fmt.Sprintf("kid %q", kid)
			}
			bad(at, lbl, "jwk", detail, fix)
			continue
		}
		k := ks[0]
		var absent []string
		for _, name := range []string{"kid", "alg", "use"} {
			if _, ok := m[name]; !ok {
				absent = append(absent, name)
			}
		}
		missing = append(missing, absent)
		keys = append(keys, k)
	}
	set, err := Assemble(keys, AssembleOptions{Policy: opts.Policy, KID: KIDKeepOrThumbprint, Now: opts.Now})
	var pe *PolicyError
	if errors.As(err, &pe) {
		vs := pe.Violations
		if len(violations) > 0 {
			vs = WithoutRule(vs, "empty-set") // already explained by the keys that failed to parse
		}
		violations = append(violations, vs...)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	if len(violations) > 0 {
		return nil, &PolicyError{Violations: violations}
	}
	for i, k := range keys {
		if len(missing[i]) > 0 {
			at := k.Origin.String() // names the key's index in the document
			if k.KID != "" {
				at += ": " + label(k.KID, i)
			}
			warnings = append(warnings, fmt.Sprintf("%s: no %s member; verifiers may not select or accept this key", at, strings.Join(missing[i], ", ")))
		}
	}
	set.Warnings = append(warnings, set.Warnings...)
	return set, nil
}

func stringMember(m map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := m[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
