package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
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
			"  nginx -p DIR/ -c DIR/nginx.conf -e stderr -g 'daemon off; pid /tmp/jwkspub-nginx.pid;'",
		Flags: append(oneSetFlag(commonFlags()),
			&cli.StringFlag{Name: "dir", Usage: "build context `DIR` to write (created if needed)", EnvVars: []string{"JWKSPUB_DIR"}},
			&cli.StringFlag{Name: "listen", Value: d.Listen, Usage: "nginx listen address: `PORT` or HOST:PORT", EnvVars: []string{"JWKSPUB_LISTEN"}},
			&cli.StringFlag{Name: "base-image", Value: d.BaseImage, Usage: "the Dockerfile's FROM `IMAGE` (pin it by digest)", EnvVars: []string{"JWKSPUB_BASE_IMAGE"}},
			&cli.StringFlag{Name: "access-log", Value: d.AccessLog, Usage: "where nginx writes JSON access logs: `PATH`, /dev/stdout or off", EnvVars: []string{"JWKSPUB_ACCESS_LOG"}},
			&cli.StringFlag{Name: "temp-dir", Value: d.TempDir, Usage: "writable `DIR` for nginx's temporary files", EnvVars: []string{"JWKSPUB_TEMP_DIR"}},
		),
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
			srcs, err := g.sourcesFor(set)
			if err != nil {
				return err
			}
			built, err := publish.Build(c.Context, publish.BuildOptions{Set: set, Sources: srcs, Now: e.clock(), Logger: g.logger})
			if err != nil {
				return err
			}
			// No state object: render reads no target, and inventing "first published" times
			// would mislead the guard. oci:// targets add the state they read and keep.
			files, err := publish.RenderContext(publish.ContextOptions{Set: set, Keys: built, Params: params})
			if err != nil {
				return err
			}
			if err := publish.WriteContext(c.Context, dir, files); err != nil {
				return err
			}
			return renderReport(e, g.format, set.Name, dir, files, built)
		},
	}
}

// renderReport says what render wrote: a line per file for people, an object for machines.
func renderReport(e env, format, name, dir string, files []publish.ContextFile, set *jwks.Set) error {
	type file struct {
		Path    string `json:"path"`
		Bytes   int    `json:"bytes"`
		SHA256  string `json:"sha256"`
		ModTime string `json:"mtime"`
	}
	out := make([]file, len(files))
	for i, f := range files {
		sum := sha256.Sum256(f.Data)
		out[i] = file{f.Path, len(f.Data), hex.EncodeToString(sum[:]), f.ModTime.UTC().Format(time.RFC3339)}
	}
	if format == "json" {
		return writeJSON(e.stdout, map[string]any{"set": name, "dir": dir, "keys": len(set.Keys), "files": out})
	}
	fmt.Fprintf(e.stdout, "rendered %s: set %q, %d key(s)\n", dir, name, len(set.Keys))
	for _, f := range out {
		fmt.Fprintf(e.stdout, "  %-42s %6d bytes  sha256 %s\n", f.Path, f.Bytes, f.SHA256[:16])
	}
	return nil
}
