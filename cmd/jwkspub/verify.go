package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/sources"
)

func verifyCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check a served or stored JWKS against the policy, and optionally a token against it",
		Description: "Reads the document from --file or --url (https, or http on loopback only) and applies\n" +
			"the policy of the configured set (or the default policy without a config file), reporting\n" +
			"every violation at once (exit 3). With --token or --token-file it also verifies a JWT\n" +
			"against the document: kid in the set, the key's alg, signature, exp and nbf (exit 3 if not).\n" +
			"With --expect it reads the set's sources and requires the URL to serve exactly what publish\n" +
			"would write (bytes, Cache-Control, Content-Type), polling for up to --wait: exit 2 on drift.\n" +
			"When the URL is the public_url of one of the set's targets, the target is read too, and the\n" +
			"keys publish keeps there (an optional source that is down, an aws-kms: alias's earlier\n" +
			"keys) are expected, not drift.\n" +
			"With --sign-test (or --vault-sign-test) it instead builds the set from the sources and has\n" +
			"Vault Transit sign a probe with each vault-transit key's newest version, and KMS with each\n" +
			"aws-kms source's newest key, then verifies it against that set.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "file", Usage: "JWKS `FILE` to check", EnvVars: []string{"JWKSPUB_FILE"}},
			&cli.StringFlag{Name: "url", Usage: "JWKS `URL` to fetch and check (https)", EnvVars: []string{"JWKSPUB_URL"}},
			&cli.StringFlag{Name: "token", Usage: "a compact JWT to verify against the document (prefer --token-file or JWKSPUB_TOKEN: arguments are visible to other users)", EnvVars: []string{"JWKSPUB_TOKEN"}},
			&cli.StringFlag{Name: "token-file", Usage: "read the JWT to verify from `FILE`", EnvVars: []string{"JWKSPUB_TOKEN_FILE"}},
			&cli.DurationFlag{Name: "skew", Value: 0, Usage: "clock skew tolerated for exp and nbf", EnvVars: []string{"JWKSPUB_SKEW"}},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "timeout for fetching --url", EnvVars: []string{"JWKSPUB_TIMEOUT"}},
			&cli.StringFlag{Name: "config", Usage: "configuration file whose set's policy applies (default jwkspub.yaml if present)", EnvVars: []string{"JWKSPUB_CONFIG"}},
			&cli.StringFlag{Name: "set", Usage: "the set `NAME` whose policy applies (needed when the configuration has several)", EnvVars: []string{"JWKSPUB_SET"}},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output on stdout: text or json", EnvVars: []string{"JWKSPUB_FORMAT"}},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "logs on stderr: text or json", EnvVars: []string{"JWKSPUB_LOG_FORMAT"}},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"JWKSPUB_LOG_LEVEL"}},
			&cli.BoolFlag{Name: "expect", Usage: "with --url: also require the served bytes, Cache-Control and Content-Type to be what the set's sources give now (drift: exit 2)", EnvVars: []string{"JWKSPUB_EXPECT"}},
			&cli.DurationFlag{Name: "wait", Usage: "with --expect: keep checking for up to `DURATION` until the URL (a CDN) serves it", EnvVars: []string{"JWKSPUB_WAIT"}},
			&cli.DurationFlag{Name: "interval", Value: 10 * time.Second, Usage: "with --wait: pause between checks", EnvVars: []string{"JWKSPUB_INTERVAL"}},
			&cli.BoolFlag{Name: "derive-public", Usage: "with --expect: accept private key input in the sources and use only its public half", EnvVars: []string{"JWKSPUB_DERIVE_PUBLIC"}},
			&cli.StringFlag{Name: "cors-origin", Usage: "with --url: fetch again with the header Origin: `ORIGIN` and require Access-Control-Allow-Origin to allow it (browser clients)", EnvVars: []string{"JWKSPUB_CORS_ORIGIN"}},
			maxInputFlag(),
		}, append(vaultFlags(), signTestFlags()...)...),
		Action: func(c *cli.Context) error { return runVerify(c, e) },
	}
}

func runVerify(c *cli.Context, e env) error {
	format := c.String("format")
	if format != "text" && format != "json" {
		return usagef("--format %q: use text or json", format)
	}
	logger, err := newLogger(e.stderr, c.String("log-format"), c.String("log-level"), e.atExit)
	if err != nil {
		return err
	}
	if c.Bool("sign-test") {
		return runSignTest(c, e, format)
	}
	file, rawURL := c.String("file"), c.String("url")
	if (file == "") == (rawURL == "") {
		return usagef("verify needs exactly one of --file FILE or --url URL")
	}
	if c.String("token") != "" && c.String("token-file") != "" {
		return usagef("--token and --token-file do not mix")
	}
	if rawURL != "" {
		if err := served.CheckFetchURL(rawURL); err != nil {
			return usagef("--url: %v", err)
		}
	}
	corsOrigin := c.String("cors-origin")
	if corsOrigin != "" && rawURL == "" {
		return usagef("--cors-origin checks what a URL serves; give --url")
	}
	policy, setName, err := verifyPolicy(c)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(c.String("token"))
	if p := c.String("token-file"); p != "" {
		b, err := readBounded(p, maxTokenFile)
		if err != nil {
			return fmt.Errorf("reading token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}

	var (
		doc    []byte
		origin sources.Origin
	)
	if !c.Bool("expect") && c.IsSet("wait") {
		return usagef("--wait polls for --expect; give --expect too")
	}
	if c.Bool("expect") {
		if rawURL == "" {
			return usagef("--expect compares what a URL serves; give --url")
		}
		if setName == "" {
			return usagef("--expect needs the set's sources: give --config (and --set)")
		}
		d, served, err := expectDrift(c, e, rawURL, logger)
		if err != nil {
			return err
		}
		// Not fetched at all (403 from a private bucket, 5xx, no connection) is an error (1),
		// not drift (2): nothing was compared.
		if err := d.FetchFailed(); err != nil {
			return err
		}
		if d.Drifted() {
			if format == "json" {
				if err := writeJSON(e.stdout, verifyReport{Header: report.NewHeader("verify"), Source: rawURL, Set: setName, Drift: d}); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(e.stdout, d.String())
			}
			return &codeError{code: exitChanges, err: fmt.Errorf("set %q: %s", setName, d)}
		}
		if c.String("log-format") == "json" {
			logger.Info(d.String())
		} else {
			fmt.Fprintln(e.stderr, d.String())
		}
		// What was served is exactly these bytes: check them rather than fetch again.
		doc, origin = served, sources.Origin{Source: rawURL}
	}
	switch {
	case doc != nil:
	case file != "":
		origin = sources.Origin{Source: "file:" + file}
		if doc, err = readBounded(file, served.MaxDocumentSize); err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
	default:
		origin = sources.Origin{Source: rawURL}
		if doc, err = served.Fetch(c.Context, &http.Client{Timeout: c.Duration("timeout")}, rawURL); err != nil {
			return err
		}
	}

	if corsOrigin != "" {
		// Object stores answer CORS only to requests that carry an Origin: send one.
		if err := served.CheckCORS(c.Context, &http.Client{Timeout: c.Duration("timeout")}, rawURL, corsOrigin); err != nil {
			return err
		}
	}

	out := verifyReport{Header: report.NewHeader("verify"), Source: origin.String(), Set: setName}
	set, err := jwks.Verify(doc, origin, jwks.VerifyOptions{Policy: policy, Now: e.clock()})
	if err != nil {
		var pe *jwks.PolicyError
		if format == "json" && errors.As(err, &pe) {
			for _, v := range pe.Violations {
				out.Violations = append(out.Violations, v.String())
			}
			if werr := writeJSON(e.stdout, out); werr != nil {
				return werr
			}
		}
		return err
	}
	for _, w := range set.Warnings {
		logger.Warn(w)
	}
	out.OK, out.Warnings = true, set.Warnings
	for _, k := range set.Keys {
		out.Keys = append(out.Keys, reportKey{KID: k.KID, Kty: k.Kty, Alg: k.Alg})
	}
	var tokErr error
	if token != "" {
		out.Token, tokErr = served.VerifyToken(set, token, served.TokenOptions{Now: e.clock(), Skew: c.Duration("skew")})
		if tokErr != nil {
			out.OK, out.TokenError = false, tokErr.Error()
		}
	}
	if format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
		return tokErr
	}
	policyOf := "the default policy"
	if setName != "" {
		policyOf = fmt.Sprintf("the policy of set %q", setName)
	}
	fmt.Fprintf(e.stdout, "ok %s: %d key(s) pass %s\n", origin, len(set.Keys), policyOf)
	for _, k := range set.Keys {
		fmt.Fprintf(e.stdout, "  %s %s %s\n", k.KID, k.Kty, k.Alg)
	}
	if out.Token != nil {
		t := out.Token
		fmt.Fprintf(e.stdout, "token ok: kid %q, alg %s, expires %s\n", t.KID, t.Alg, t.Expires.Format(time.RFC3339))
	}
	if corsOrigin != "" {
		fmt.Fprintf(e.stdout, "cors ok: Access-Control-Allow-Origin allows %s\n", corsOrigin)
	}
	return tokErr
}

type reportKey struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
}

// verifyReport is verify's machine-readable output.
type verifyReport struct {
	report.Header
	Source     string              `json:"source"`
	Set        string              `json:"set,omitempty"`
	OK         bool                `json:"ok"`
	Keys       []reportKey         `json:"keys,omitempty"`
	Warnings   []string            `json:"warnings,omitempty"`
	Violations []string            `json:"violations,omitempty"`
	Token      *served.TokenResult `json:"token,omitempty"`
	TokenError string              `json:"token_error,omitempty"`
	// Drift is set by --expect when the URL does not serve what the sources give.
	Drift *served.Drift `json:"drift,omitempty"`
}

// expectDrift builds the one chosen set from its sources, as publish would, and waits up to
// --wait for rawURL to serve exactly that document.
// It returns the drift and the expected document's bytes.
func expectDrift(c *cli.Context, e env, rawURL string, logger *slog.Logger) (*served.Drift, []byte, error) {
	g, err := readGlobals(c, e)
	if err != nil {
		return nil, nil, err
	}
	set := &g.cfg.Sets[0]
	srcs, err := g.sourcesFor(set)
	if err != nil {
		return nil, nil, err
	}
	keys, err := expectedKeys(c, g, e, set, srcs, rawURL)
	if err != nil {
		return nil, nil, err
	}
	want, err := publish.ExpectedDocument(set, keys)
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Timeout: c.Duration("timeout")}
	d := served.WaitNoDrift(c.Context, client, rawURL, want, served.WaitOptions{
		Wait: c.Duration("wait"), Interval: c.Duration("interval"), Logger: logger})
	return d, want.Body, nil
}

// expectedKeys is the set rawURL should serve. When rawURL is the public_url of one of the
// set's targets, that is what publish leaves there: the target is planned, and the keys the
// plan keeps (an optional source that is down, an aws-kms: alias's earlier keys still within
// their removal time) are expected too, not reported as drift. Otherwise it is what the
// sources give now.
func expectedKeys(c *cli.Context, g *globals, e env, set *config.SetConfig, srcs []sources.Source, rawURL string) (*jwks.Set, error) {
	for _, tc := range set.Targets {
		if tc.PublicURL != rawURL {
			continue
		}
		pl, err := planAll(c.Context, g, e, "", e.clock(), nil)
		if err != nil {
			return nil, err
		}
		defer pl.close()
		for _, p := range pl.plans {
			if p.Target == tc.URL {
				return p.PublishedKeys(), nil
			}
		}
		if len(pl.stale) > 0 {
			return nil, fmt.Errorf("--expect: reading target %s, whose public_url is %s: %w", tc.URL, rawURL, pl.stale[0].err)
		}
	}
	return publish.Build(c.Context, publish.BuildOptions{Set: set, Sources: srcs, Now: e.clock(), Logger: g.logger})
}

// verifyPolicy is the policy a document is checked against: the chosen set's when there is a
// configuration file (--config, or jwkspub.yaml when present), else the default policy.
func verifyPolicy(c *cli.Context) (jwks.Policy, string, error) {
	if c.String("config") == "" {
		if _, err := os.Stat("jwkspub.yaml"); err != nil {
			if len(setNames(c)) > 0 {
				return jwks.Policy{}, "", usagef("--set needs a configuration file")
			}
			return jwks.Policy{}, "", nil
		}
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return jwks.Policy{}, "", err
	}
	if len(cfg.Sets) != 1 {
		names := make([]string, len(cfg.Sets))
		for i, s := range cfg.Sets {
			names[i] = s.Name
		}
		return jwks.Policy{}, "", usagef("verify checks against one set's policy; choose it with --set (the configuration has %v)", names)
	}
	return cfg.Sets[0].Policy, cfg.Sets[0].Name, nil
}

// maxTokenFile bounds --token-file: a JWT is a few kilobytes.
const maxTokenFile = 1 << 20

// readBounded reads a whole file of at most limit bytes: a document or token given by path
// must not take unbounded memory.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
