package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/sources/awskms"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// signTestFlags are verify's flags for the sign test (the vault-* connection flags are
// verify's already, for --expect). --vault-sign-test, its name before it covered KMS, stays.
func signTestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "sign-test", Aliases: []string{"vault-sign-test"}, Usage: "sign a probe JWT with each vault-transit source's newest published version (needs update on MOUNT/sign/KEY) and each aws-kms source's newest key (needs kms:Sign), and verify it against the set built from the sources", EnvVars: []string{"JWKSPUB_SIGN_TEST", "JWKSPUB_VAULT_SIGN_TEST"}},
	}
}

// signTestResult is one probe, for the report.
type signTestResult struct {
	Source  string `json:"source"`
	Version int    `json:"version,omitempty"` // Transit
	Key     string `json:"key,omitempty"`     // KMS: the key (or alias) that signed
	KID     string `json:"kid"`
	Alg     string `json:"alg"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// runSignTest is `verify --sign-test`: it builds the set as build does, then for each
// vault-transit source signs a short-lived probe through Transit with the parameters the README
// gives for the key's alg, and for each aws-kms source through KMS Sign with its newest key,
// and verifies it against the built set as a verifier would. A probe that does not verify is a
// refusal (exit 3): tokens signed that way would be rejected.
func runSignTest(c *cli.Context, e env, format string) error {
	for _, f := range []string{"file", "url", "token", "token-file"} {
		if c.String(f) != "" {
			return usagef("--sign-test checks the set built from the sources; it does not take --%s", f)
		}
	}
	g, err := readGlobals(c, e)
	if err != nil {
		return err
	}
	if len(g.cfg.Sets) != 1 {
		return usagef("--sign-test works on one set; choose it with --set")
	}
	set := &g.cfg.Sets[0]
	srcs, err := g.sourcesFor(set)
	if err != nil {
		return err
	}
	now := e.clock()
	built, err := publish.Build(c.Context, publish.BuildOptions{Set: set, Sources: srcs, Now: now, Logger: g.logger})
	if err != nil {
		return err
	}
	var (
		results []signTestResult
		errs    []error
	)
	claims := map[string]any{"iss": "jwkspub-sign-test", "sub": "probe", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
	for _, s := range srcs {
		if ks, ok := s.(*awskms.Source); ok {
			r, err := kmsSignTest(c, ks, built, claims, now)
			if err != nil {
				errs = append(errs, err)
			}
			if r != nil {
				results = append(results, *r)
			}
			continue
		}
		tr, ok := s.(*vault.Transit)
		if !ok {
			continue
		}
		k, version := newestVersion(built, tr.String())
		if k == nil {
			errs = append(errs, fmt.Errorf("%s: no published key to test", tr))
			continue
		}
		r := signTestResult{Source: tr.String(), Version: version, KID: k.KID, Alg: k.Alg}
		tok, err := tr.SignJWT(c.Context, version, k.Alg, k.KID, claims)
		if err == nil {
			_, err = served.VerifyToken(built, tok, served.TokenOptions{Now: now})
			if err != nil {
				err = fmt.Errorf("%s version %d (kid %q, %s): the probe Vault signed does not verify against the built set: %w", tr, version, k.KID, k.Alg, err)
			}
		} else {
			err = fmt.Errorf("%s: signing the probe: %w", tr, err)
		}
		if err != nil {
			r.Error = err.Error()
			errs = append(errs, err)
		}
		r.OK = err == nil
		results = append(results, r)
	}
	if len(results) == 0 && len(errs) == 0 {
		return usagef("--sign-test: set %q has no vault-transit or aws-kms source", set.Name)
	}
	if format == "json" {
		if err := report.WriteJSON(e.stdout, struct {
			report.Header
			Set      string           `json:"set"`
			SignTest []signTestResult `json:"sign_test"`
		}{report.NewHeader("verify"), set.Name, results}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			status := "ok"
			if !r.OK {
				status = "FAILED"
			}
			if r.Key != "" {
				fmt.Fprintf(e.stdout, "sign-test %s: %s key %s, kid %s, %s\n", status, r.Source, r.Key, r.KID, r.Alg)
				continue
			}
			fmt.Fprintf(e.stdout, "sign-test %s: %s version %d, kid %s, %s\n", status, r.Source, r.Version, r.KID, r.Alg)
		}
	}
	return errors.Join(errs...)
}

// kmsSignTest signs a probe with the newest key of an aws-kms source (the last it lists, an
// alias usually) and verifies it against the built set with the kid and alg the set gives that
// source's newest key: a wrong alg or kid pairing fails here, before verifiers see it.
func kmsSignTest(c *cli.Context, ks *awskms.Source, built *jwks.Set, claims map[string]any, now time.Time) (*signTestResult, error) {
	var k *jwks.JWK
	for i := range built.Keys {
		if b := &built.Keys[i]; b.Spec == ks.String() && (k == nil || b.Order > k.Order) {
			k = b
		}
	}
	if k == nil {
		return nil, fmt.Errorf("%s: no published key to test", ks)
	}
	r := &signTestResult{Source: ks.String(), Key: ks.Newest(), KID: k.KID, Alg: k.Alg}
	tok, err := ks.SignJWT(c.Context, ks.Newest(), k.Alg, k.KID, claims)
	if err == nil {
		if _, err = served.VerifyToken(built, tok, served.TokenOptions{Now: now}); err != nil {
			err = fmt.Errorf("%s key %s (kid %q, %s): the probe KMS signed does not verify against the built set: %w", ks, ks.Newest(), k.KID, k.Alg, err)
		}
	} else {
		err = fmt.Errorf("%s: signing the probe: %w", ks, err)
	}
	if err != nil {
		r.Error = err.Error()
	}
	r.OK = err == nil
	return r, err
}

// newestVersion finds the built key of the highest Transit version from source spec.
func newestVersion(set *jwks.Set, spec string) (*jwks.JWK, int) {
	var (
		best *jwks.JWK
		ver  int
	)
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.Origin.Source != spec {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(k.Origin.Location, "version "))
		if err == nil && n > ver {
			best, ver = k, n
		}
	}
	return best, ver
}
