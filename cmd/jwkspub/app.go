package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/internal/didyoumean"
	"github.com/jwkspub/jwkspub/publish/config"
	"github.com/jwkspub/jwkspub/sources"
	"github.com/jwkspub/jwkspub/sources/awskms"
	"github.com/jwkspub/jwkspub/sources/issuer"
	"github.com/jwkspub/jwkspub/sources/vault"
)

// Set by the linker: -X main.version=... -X main.commit=... -X main.date=...
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// env is the process environment run works in, injected so tests run it in-process.
type env struct {
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	// now is the clock; nil means time.Now. Tests fix it so rotation timing is testable.
	now func() time.Time
	// atExit collects what run does after the command, whatever its outcome (revoking a Vault
	// token jwkspub logged in for). run sets it.
	atExit *[]func(context.Context)
	// diag is where run reports its own messages on stderr (the final error); run sets it
	// when the caller has not.
	diag *stderrLog
}

// run executes jwkspub with args and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	e.atExit = new([]func(context.Context))
	if e.diag == nil {
		e.diag = newStderrLog(e.stderr, logFormatOf(args, e.lookup) == "json")
	}
	app := newApp(e)
	if n := len(args); n >= 2 && args[n-1] == completionFlag {
		app.Setup()
		for _, w := range complete(app, args[1:n-1], e.lookup) {
			fmt.Fprintln(e.stdout, w)
		}
		return exitOK
	}
	err := app.RunContext(ctx, args)
	// Cleanups run even after an interrupt, briefly: a token left valid is worse than a
	// second's delay. After an interrupt they get less, as the process is due to end within a
	// second of the signal.
	wait := 5 * time.Second
	if ctx.Err() != nil {
		wait = interruptedCleanup
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	for i := len(*e.atExit) - 1; i >= 0; i-- {
		(*e.atExit)[i](cctx)
	}
	cancel()
	code := exitCode(err)
	if err != nil && err.Error() != "" {
		e.diag.sayError(err, code)
	}
	return code
}

func newApp(e env) *cli.App {
	// --version (and -v) print what the version command prints, so a binary found on a runner
	// or a host can be asked the usual way.
	app := &cli.App{
		Name:                 "jwkspub",
		Usage:                "publish JSON Web Key Sets as static files",
		Version:              fmt.Sprintf("%s (commit %s, built %s)", version, commit, date),
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usagef("%v", err)
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Commands: []*cli.Command{
			buildCommand(e),
			withMetrics(diffCommand(e), e),
			withMetrics(publishCommand(e), e),
			statusCommand(e),
			verifyCommand(e),
			renderCommand(e),
			keygenCommand(e),
			versionCommand(e),
			completionCommand(e),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				name := c.Args().First()
				var names []string
				for _, cmd := range c.App.VisibleCommands() {
					names = append(names, cmd.Name)
				}
				return usagef("unknown command %q%s", name, didyoumean.Suffix(name, names))
			}
			return cli.ShowAppHelp(c)
		},
	}
	completeHelp(app.Commands)
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
		if cmd.Before == nil {
			cmd.Before = noArgs
		}
	}
	return app
}

// noArgs refuses positional arguments: urfave/cli v2 stops parsing flags at the first
// argument, so a flag written after one would otherwise be silently ignored.
func noArgs(c *cli.Context) error {
	if c.Args().Len() == 0 {
		return nil
	}
	first := c.Args().First()
	if strings.HasPrefix(first, "-") {
		return usagef("%s: flag %s came after an argument; put every flag before arguments", c.Command.Name, first)
	}
	return usagef("%s takes no arguments, got %q", c.Command.Name, first)
}

// Common flags, shared by every command that reads sets.
func commonFlags() []cli.Flag {
	return append(setFlags(), vaultFlags()...)
}

// setFlags are the common flags without Vault's: for status, which reads no source.
func setFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "configuration file (default jwkspub.yaml if present)", EnvVars: []string{"JWKSPUB_CONFIG"}},
		&cli.StringSliceFlag{Name: "set", Usage: "set `NAME` to work on (repeatable; default every set)", EnvVars: []string{"JWKSPUB_SET"}},
		&cli.StringSliceFlag{Name: "source", Usage: "source `SPEC` for the one-set case without a config file (repeatable)", EnvVars: []string{"JWKSPUB_SOURCE"}},
		&cli.StringSliceFlag{Name: "target", Usage: "target `URL` for the one-set case without a config file (repeatable)", EnvVars: []string{"JWKSPUB_TARGET"}},
		&cli.BoolFlag{Name: "derive-public", Usage: "accept private key input and publish only its public half", EnvVars: []string{"JWKSPUB_DERIVE_PUBLIC"}},
		maxInputFlag(),
		&cli.StringFlag{Name: "format", Value: "text", Usage: "output on stdout: text or json", EnvVars: []string{"JWKSPUB_FORMAT"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "logs on stderr: text or json", EnvVars: []string{"JWKSPUB_LOG_FORMAT"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"JWKSPUB_LOG_LEVEL"}},
	}
}

// oneSetFlag replaces the repeatable --set of flags with a single one, for the commands that
// work on exactly one set (build, render, verify): their help must not offer a repetition
// they refuse.
func oneSetFlag(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, 0, len(flags))
	for _, f := range flags {
		if f.Names()[0] == "set" {
			f = &cli.StringFlag{Name: "set", Usage: "the one set `NAME` to work on (needed when the configuration has several)", EnvVars: []string{"JWKSPUB_SET"}}
		}
		out = append(out, f)
	}
	return out
}

// setNames are the sets --set names, whether the command's --set is repeatable or not.
func setNames(c *cli.Context) []string {
	for _, f := range c.Command.Flags {
		if _, one := f.(*cli.StringFlag); one && f.Names()[0] == "set" {
			if v := c.String("set"); v != "" {
				return []string{v}
			}
			return nil
		}
	}
	return c.StringSlice("set")
}

// maxInputFlag is the input budget of every command that reads sources.
func maxInputFlag() cli.Flag {
	return &cli.StringFlag{Name: "max-input-bytes", Value: "64MiB", Usage: "most key input to read, all sources of all sets together: `SIZE` in bytes, or with KiB, MiB or GiB; each key counts at least 1 KiB", EnvVars: []string{"JWKSPUB_MAX_INPUT_BYTES"}}
}

// globals is what the common flags say, read once per command.
type globals struct {
	cfg          *config.Config
	derivePublic bool
	format       string
	logger       *slog.Logger
	lookup       func(string) (string, bool)
	vs           vaultSettings
	vault        *vault.Vault // made on first use by a vault-* source
	kms          *awskms.KMS  // made on first use by an aws-kms: source
	budget       *sources.Budget
	atExit       *[]func(context.Context)
}

func readGlobals(c *cli.Context, e env) (*globals, error) {
	g := &globals{derivePublic: c.Bool("derive-public"), format: c.String("format"), lookup: e.lookup, atExit: e.atExit}
	switch g.format {
	case "text", "json":
	case "html":
		if !c.Command.HasName("status") {
			return nil, usagef("--format html: only status draws a page; use text or json")
		}
	default:
		if c.Command.HasName("status") {
			return nil, usagef("--format %q: use text, json or html", g.format)
		}
		return nil, usagef("--format %q: use text or json", g.format)
	}
	limit, err := parseSize(c.String("max-input-bytes"))
	if err != nil {
		return nil, usagef("--max-input-bytes: %v", err)
	}
	g.budget = sources.NewBudget(limit)
	if c.Command.HasName("status") {
		// status reads no source, and has no Vault flags.
	} else if g.vs, err = readVaultSettings(c); err != nil {
		return nil, err
	}
	if g.logger, err = newLogger(e.stderr, c.String("log-format"), c.String("log-level"), e.atExit); err != nil {
		return nil, err
	}
	if g.cfg, err = loadConfig(c); err != nil {
		return nil, err
	}
	return g, nil
}

// newLogger makes the logger of a command. A message repeated more than sources.ListLimit
// times is cut there, and counted in one line when the run ends (atExit).
func newLogger(w io.Writer, format, level string, atExit *[]func(context.Context)) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, usagef("--log-format %q: use text or json", format)
	}
	ch := newCapHandler(h)
	if atExit != nil {
		*atExit = append(*atExit, ch.flush)
	}
	return slog.New(ch), nil
}

// loadConfig reads the configuration file, or builds the one-set configuration from --source
// and --target, and narrows it to the sets named by --set.
func loadConfig(c *cli.Context) (*config.Config, error) {
	path := c.String("config")
	srcs, tgts := c.StringSlice("source"), c.StringSlice("target")
	var cfg *config.Config
	switch {
	case len(srcs) > 0 && path != "":
		return nil, usagef("--source and --config do not mix: put the sources in the config file")
	case len(srcs) > 0:
		set := config.SetConfig{Name: "default"}
		for _, s := range srcs {
			set.Sources = append(set.Sources, config.SourceConfig{Spec: sources.Spec{Spec: s}})
		}
		for _, t := range tgts {
			set.Targets = append(set.Targets, config.TargetConfig{URL: t})
		}
		cfg = &config.Config{Sets: []config.SetConfig{set}}
		if err := cfg.Validate(); err != nil {
			return nil, usagef("%v", err)
		}
	default:
		explicit := path != ""
		if !explicit {
			path = "jwkspub.yaml"
		}
		f, err := os.Open(path)
		if err != nil {
			if !explicit && os.IsNotExist(err) {
				return nil, usagef("no configuration: pass --config FILE, or --source SPEC for a single set")
			}
			return nil, fmt.Errorf("reading configuration: %w", err)
		}
		defer f.Close()
		if cfg, err = config.LoadConfig(f, path); err != nil {
			return nil, err
		}
		// A file: source in the file means a path beside the file, wherever jwkspub runs.
		cfg.ResolvePaths(filepath.Dir(path))
		if len(tgts) > 0 {
			return nil, usagef("--target and --config do not mix: put the targets in the config file")
		}
	}
	if err := checkTargets(cfg); err != nil {
		return nil, err
	}
	names := setNames(c)
	if len(names) == 0 {
		return cfg, nil
	}
	picked := &config.Config{}
	for _, n := range names {
		s, ok := cfg.Set(n)
		if !ok {
			have := make([]string, len(cfg.Sets))
			for i, s := range cfg.Sets {
				have[i] = s.Name
			}
			return nil, usagef("--set %q: no such set in the configuration%s (it has %s)", n, didyoumean.Suffix(n, have), strings.Join(have, ", "))
		}
		picked.Sets = append(picked.Sets, *s)
	}
	return picked, nil
}

// checkTargets checks every target URL against the scheme table as the configuration is
// read, so that a misspelt query parameter (regoin=) is a usage error before anything is
// read or built, not a stale target at run time.
func checkTargets(cfg *config.Config) error {
	var errs []string
	for _, s := range cfg.Sets {
		for i, t := range s.Targets {
			if _, err := checkTarget(t.URL); err != nil {
				errs = append(errs, fmt.Sprintf("set %q: target %d: %v", s.Name, i+1, err))
			}
		}
	}
	if len(errs) > 0 {
		return usagef("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// oneSet returns the only selected set, for commands that write one set ("build writes").
func (g *globals) oneSet(what string) (*config.SetConfig, error) {
	if len(g.cfg.Sets) != 1 {
		names := make([]string, len(g.cfg.Sets))
		for i, s := range g.cfg.Sets {
			names[i] = s.Name
		}
		return nil, usagef("%s one set; choose it with --set (the configuration has %v)", what, names)
	}
	return &g.cfg.Sets[0], nil
}

// sourcesFor builds the sources of one set.
func (g *globals) sourcesFor(set *config.SetConfig) ([]sources.Source, error) {
	opts := sources.Options{DerivePublic: g.derivePublic, Logger: g.logger, Lookup: g.lookup, Budget: g.budget,
		Issuer: &issuer.Fetcher{Logger: g.logger}}
	if usesVault(set) {
		v, err := g.vaultConn()
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", set.Name, err)
		}
		opts.Vault = v
	}
	if usesKMS(set) {
		k, err := g.kmsConn()
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", set.Name, err)
		}
		opts.KMS = k
	}
	out := make([]sources.Source, 0, len(set.Sources))
	for _, sc := range set.Sources {
		s, err := sources.New(sc.Spec, opts)
		if err != nil {
			return nil, fmt.Errorf("set %q: %w", set.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func versionCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print version, commit and build date",
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "text or json"}},
		Action: func(c *cli.Context) error {
			if c.String("format") == "json" {
				return writeJSON(e.stdout, map[string]string{"version": version, "commit": commit, "date": date})
			}
			fmt.Fprintf(e.stdout, "jwkspub %s (commit %s, built %s)\n", version, commit, date)
			return nil
		},
	}
}

// parseSize reads a byte count: a whole number, optionally followed by KiB, MiB or GiB. Blank
// (an empty JWKSPUB_MAX_INPUT_BYTES) is 0, the default.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	if num == "" {
		return 0, nil
	}
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size: use a positive number of bytes, or one with KiB, MiB or GiB (64MiB)", s)
	}
	return n * mult, nil
}
