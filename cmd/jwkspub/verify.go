package main

import "github.com/urfave/cli/v2"

// verifyCommand is a placeholder until its issue lands.
func verifyCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "verify",
		Usage:  "check a served or stored JWKS against the policy",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("verify is not implemented yet") },
	}
}
