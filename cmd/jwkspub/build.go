package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/publish"
	"github.com/jwkspub/jwkspub/publish/jwks"
	"github.com/jwkspub/jwkspub/publish/report"
)

func buildCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "read the sources and write a validated jwks.json; writes nothing else",
		Flags: append(oneSetFlag(commonFlags()),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "jwks.json", Usage: "where to write the set (- for stdout)", EnvVars: []string{"JWKSPUB_OUTPUT"}},
			&cli.BoolFlag{Name: "pretty", Usage: "indent the JSON for humans", EnvVars: []string{"JWKSPUB_PRETTY"}},
		),
		Action: func(c *cli.Context) error {
			g, err := readGlobals(c, e)
			if err != nil {
				return err
			}
			set, err := g.oneSet("build writes")
			if err != nil {
				return err
			}
			srcs, err := g.sourcesFor(set)
			if err != nil {
				return err
			}
			built, err := publish.Build(c.Context, publish.BuildOptions{Set: set, Sources: srcs, Now: e.clock(), Logger: g.logger})
			if err != nil {
				return err
			}
			doc, err := jwks.Encode(built, c.Bool("pretty") || set.Output.Pretty)
			if err != nil {
				return fmt.Errorf("set %q: %w", set.Name, err)
			}
			out := c.String("output")
			if out == "-" {
				_, err := e.stdout.Write(doc)
				return err
			}
			if err := publish.WriteFileAtomic(out, doc, 0o644); err != nil {
				return err
			}
			return reportBuild(e.stdout, g.format, set.Name, out, doc, built)
		},
	}
}

// reportBuild tells what build wrote: a line for people, an object for machines.
func reportBuild(w io.Writer, format, name, path string, doc []byte, set *jwks.Set) error {
	sum := sha256.Sum256(doc)
	if format == "json" {
		type key struct {
			KID    string `json:"kid"`
			Kty    string `json:"kty"`
			Alg    string `json:"alg"`
			Source string `json:"source"`
		}
		keys := make([]key, len(set.Keys))
		for i, k := range set.Keys {
			keys[i] = key{KID: k.KID, Kty: k.Kty, Alg: k.Alg, Source: k.Origin.String()}
		}
		return report.WriteJSON(w, struct {
			report.Header
			Set    string `json:"set"`
			Output string `json:"output"`
			SHA256 string `json:"sha256"`
			Keys   []key  `json:"keys"`
		}{report.NewHeader("build"), name, path, hex.EncodeToString(sum[:]), keys})
	}
	// One line per key: buffered, or a set of ten thousand keys costs ten thousand writes.
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "wrote %s: set %q, %d key(s), sha256 %s\n", path, name, len(set.Keys), hex.EncodeToString(sum[:]))
	for _, k := range set.Keys {
		fmt.Fprintf(bw, "  %s %s %s from %s\n", k.KID, k.Kty, k.Alg, k.Origin)
	}
	return bw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
