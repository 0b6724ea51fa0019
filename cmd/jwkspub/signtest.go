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
	"github.com/jwkspub/jwkspub/sources/vault"
)

// signTestFlags are verify's flags for the Vault Transit sign test (the vault-* connection
// flags are verify's already, for --expect).
func signTestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "vault-sign-test", Usage: "sign a probe JWT with each vault-transit source's newest published version (needs update on MOUNT/sign/KEY) and verify it against the set built from the sources", EnvVars: []string{"JWKSPUB_VAULT_SIGN_TEST"}},
	}
}

// signTestResult is one probe, for the report.
type signTestResult struct {
	Source  string `json:"source"`
	Version int    `json:"version"`
	KID     string `json:"kid"`
	Alg     string `json:"alg"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// runSignTest is `verify --vault-sign-test`: it builds the set as build does, then for each
// vault-transit source signs a short-lived probe through Transit with the parameters the README
// gives for the key's alg, and verifies it against the built set as a verifier would. A probe
// that does not verify is a refusal (exit 3): tokens signed that way would be rejected.
func runSignTest(c *cli.Context, e env, format string) error {
	for _, f := range []string{"file", "url", "token", "token-file"} {
		if c.String(f) != "" {
			return usagef("--vault-sign-test checks the set built from the sources; it does not take --%s", f)
		}
	}
	g, err := readGlobals(c, e)
	if err != nil {
		return err
	}
	if len(g.cfg.Sets) != 1 {
		return usagef("--vault-sign-test works on one set; choose it with --set")
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
	for _, s := range srcs {
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
		claims := map[string]any{"iss": "jwkspub-sign-test", "sub": "probe", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
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
		return usagef("--vault-sign-test: set %q has no vault-transit source", set.Name)
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
			fmt.Fprintf(e.stdout, "sign-test %s: %s version %d, kid %s, %s\n", status, r.Source, r.Version, r.KID, r.Alg)
		}
	}
	return errors.Join(errs...)
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
