package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/report"
	"github.com/jwkspub/jwkspub/publish/served"
	"github.com/jwkspub/jwkspub/templates"
)

// renderCommand writes the nginx image build context of one set.
func renderCommand(e env) *cli.Command {
	d := templates.Defaults()
	return &cli.Command{
		Name:  "render",
		Usage: "write the nginx image build context (Dockerfile, nginx.conf, documents)",
		Description: "Writes DIR/Dockerfile, DIR/nginx.conf and DIR/html/.well-known/ (jwks.json, and\n" +
			"openid-configuration when the set has an issuer, each with a .gz copy).\n" +
			"Build the image with: docker build DIR\n" +
			"Or run the same context with a local nginx:\n" +
			"  nginx -p DIR/ -c DIR/nginx.conf -e stderr -g 'daemon off; pid /tmp/jwkspub-nginx.pid;'\n\n" +
			"The rotation guard judges a render as it judges publish: against the earlier render in\n" +
			"DIR (its html/.well-known/jwks.json, and the state render keeps in DIR/" + publish.ContextState + ",\n" +
			"outside what nginx serves), and against the document served at --against URL (for a\n" +
			"fresh DIR, as in CI). A refusal exits 3 and writes nothing; --allow-removal and --force\n" +
			"override it as they do for publish. With neither an earlier render nor --against, the\n" +
			"render is a first publication and says so.",
		Flags: append(append(oneSetFlag(commonFlags()),
			&cli.StringFlag{Name: "dir", Usage: "build context `DIR` to write (created if needed)", EnvVars: []string{"JWKSPUB_DIR"}},
			&cli.StringFlag{Name: "listen", Value: d.Listen, Usage: "nginx listen address: `PORT` or HOST:PORT", EnvVars: []string{"JWKSPUB_LISTEN"}},
			&cli.StringFlag{Name: "base-image", Value: d.BaseImage, Usage: "the Dockerfile's FROM `IMAGE` (pin it by digest)", EnvVars: []string{"JWKSPUB_BASE_IMAGE"}},
			&cli.StringFlag{Name: "access-log", Value: d.AccessLog, Usage: "where nginx writes JSON access logs: `PATH`, /dev/stdout or off", EnvVars: []string{"JWKSPUB_ACCESS_LOG"}},
			&cli.StringFlag{Name: "temp-dir", Value: d.TempDir, Usage: "writable `DIR` for nginx's temporary files", EnvVars: []string{"JWKSPUB_TEMP_DIR"}},
			&cli.StringFlag{Name: "against", Usage: "judge the change against the document served at `URL` too (https; http only on loopback): for a DIR without an earlier render", EnvVars: []string{"JWKSPUB_AGAINST"}},
			actorFlag(),
		), guardFlags()...),
		Action: func(c *cli.Context) error {
			dir := c.String("dir")
			if dir == "" {
				return usagef("render needs --dir DIR")
			}
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			set, err := g.oneSet("render writes")
			if err != nil {
				return err
			}
			params := templates.Defaults()
			params.Listen = c.String("listen")
			params.BaseImage = c.String("base-image")
			params.AccessLog = c.String("access-log")
			params.TempDir = c.String("temp-dir")
			if err := params.Validate(); err != nil {
				return usagef("render: %v", err)
			}
			against := c.String("against")
			if against != "" {
				if err := served.CheckPublicURL(against); err != nil {
					return usagef("--against: %v", err)
				}
			}
			srcs, err := g.sourcesFor(set)
			if err != nil {
				return err
			}
			now := e.clock()
			// KeepsLive: an optional source that is down keeps the keys the earlier render
			// published, as publish keeps them at a target.
			built, err := publish.Build(c.Context, publish.BuildOptions{Set: set, Sources: srcs, Now: now, Logger: g.logger, KeepsLive: true})
			if err != nil {
				return err
			}
			rp, err := publish.PlanRender(c.Context, publish.RenderOptions{Set: set, Keys: built, Dir: dir, Against: against,
				Client: &http.Client{Timeout: 30 * time.Second}, Now: now, Version: version, AllowRemoval: c.StringSlice("allow-removal")})
			if err != nil {
				return err
			}
			gopts := publish.GuardOptions{AllowRemoval: c.StringSlice("allow-removal"), Force: c.Bool("force"), Actor: actorOf(c, e), Logger: g.logger}
			files, err := rp.Render(params, gopts)
			var ge *publish.GuardError
			if errors.As(err, &ge) {
				// Refused, nothing written: the plans and the verdict, as diff prints them.
				if g.format == "json" {
					r := report.NewPlanReport(rp.Plans, publish.Verdict{Refused: ge.Violations, Overridden: ge.Overridden}, nil)
					r.Header = report.NewHeader("render")
					_ = report.WriteJSON(e.stdout, r)
				} else {
					_ = report.WritePlanText(e.stdout, rp.Plans)
				}
				return err
			}
			if err != nil {
				return err
			}
			if err := publish.WriteContext(c.Context, dir, files); err != nil {
				return err
			}
			return renderReport(e, g.format, set.Name, dir, files, rp)
		},
	}
}

// renderReport says what render wrote and what it was judged against: a line per file for
// people, an object for machines.
func renderReport(e env, format, name, dir string, files []publish.ContextFile, rp *publish.RenderPlan) error {
	type file struct {
		Path    string `json:"path"`
		Bytes   int    `json:"bytes"`
		SHA256  string `json:"sha256"`
		ModTime string `json:"mtime"`
	}
	out := make([]file, len(files))
	keys := len(rp.Keys().Keys)
	for i, f := range files {
		sum := sha256.Sum256(f.Data)
		out[i] = file{f.Path, len(f.Data), hex.EncodeToString(sum[:]), f.ModTime.UTC().Format(time.RFC3339)}
	}
	if format == "json" {
		return writeJSON(e.stdout, map[string]any{"schema_version": report.SchemaVersion, "command": "render", "set": name, "dir": dir, "keys": keys, "first": rp.First, "plans": rp.Plans, "files": out})
	}
	fmt.Fprintf(e.stdout, "rendered %s: set %q, %d key(s)\n", dir, name, keys)
	if rp.First {
		fmt.Fprintf(e.stdout, "  first publication: no earlier render in %s and nothing served to judge against (pass --against URL when DIR is fresh)\n", dir)
	}
	for _, p := range rp.Plans {
		if p.First {
			continue
		}
		a, r, c := p.Count()
		what := "the earlier render"
		if p.Target != dir {
			what = p.Target
		}
		fmt.Fprintf(e.stdout, "  against %s: %d added, %d removed, %d changed, %d kept\n", what, a, r, c, len(p.Keys)-a-r-c)
	}
	for _, f := range out {
		fmt.Fprintf(e.stdout, "  %-42s %6d bytes  sha256 %s\n", f.Path, f.Bytes, f.SHA256[:16])
	}
	return nil
}
