package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/jwkspub/jwkspub/internal/keygen"
)

var envPrefixRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func keygenCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "make a key pair for people who have none yet",
		Description: "Writes the private key (PKCS#8 PEM) to a new file with mode 0600, never over an existing\n" +
			"one, and prints only the public side: the JWK exactly as build publishes it, and the\n" +
			"<PREFIX>PUBLIC_KEY / <PREFIX>KEY_ID lines the env-prefix source reads.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kty", Value: "EC", Usage: "key type: RSA, EC or OKP (Ed25519)", EnvVars: []string{"JWKSPUB_KTY"}},
			&cli.IntFlag{Name: "bits", Usage: "RSA modulus size (at least 2048)", DefaultText: strconv.Itoa(keygen.DefaultRSABits), EnvVars: []string{"JWKSPUB_BITS"}},
			&cli.StringFlag{Name: "crv", Usage: "curve: P-256 (default), P-384 or P-521 for EC; Ed25519 for OKP", EnvVars: []string{"JWKSPUB_CRV"}},
			&cli.StringFlag{Name: "alg", Usage: "alg to publish the key with (default inferred: RS256, ES256/384/512, EdDSA)", EnvVars: []string{"JWKSPUB_ALG"}},
			&cli.StringFlag{Name: "kid", Usage: "kid (default the RFC 7638 thumbprint)", EnvVars: []string{"JWKSPUB_KID"}},
			&cli.StringFlag{Name: "private-out", Usage: "new `FILE` for the private key (mode 0600; never overwritten)", EnvVars: []string{"JWKSPUB_PRIVATE_OUT"}},
			&cli.StringFlag{Name: "env-prefix", Value: "JWT_", Usage: "prefix of the printed variable lines", EnvVars: []string{"JWKSPUB_ENV_PREFIX"}},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output on stdout: text or json", EnvVars: []string{"JWKSPUB_FORMAT"}},
		},
		Action: func(c *cli.Context) error {
			out, prefix, format := c.String("private-out"), c.String("env-prefix"), c.String("format")
			switch {
			case out == "":
				return usagef("keygen needs --private-out FILE: the private key goes only to a new file")
			case out == "-":
				return usagef("--private-out -: keygen never writes a private key to stdout")
			case !envPrefixRE.MatchString(prefix):
				return usagef("--env-prefix %q: use letters, digits and _", prefix)
			case format != "text" && format != "json":
				return usagef("--format %q: use text or json", format)
			}
			pair, err := keygen.Generate(keygen.Options{Kty: c.String("kty"), Bits: c.Int("bits"), Crv: c.String("crv"), Alg: c.String("alg"), KID: c.String("kid")})
			if errors.Is(err, keygen.ErrBadOptions) {
				return usagef("%v", err)
			}
			if err != nil {
				return err
			}
			defer pair.Forget()
			if err := pair.WritePrivate(out); err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(e.stdout, map[string]any{
					"private_key_file": out,
					"kid":              pair.JWK.KID,
					"jwk":              json.RawMessage(pair.JWKJSON),
					"env":              pair.PublicEnv(prefix),
				})
			}
			fmt.Fprintf(e.stdout, "# private key written to %s (mode 0600): keep it secret, never commit it\n", out)
			fmt.Fprintf(e.stdout, "# public JWK, as build publishes it:\n%s\n", pair.JWKJSON)
			fmt.Fprintf(e.stdout, "# the public side for the env-prefix:%s source (.env form):\n%s", prefix, pair.EnvLines(prefix))
			return nil
		},
	}
}
