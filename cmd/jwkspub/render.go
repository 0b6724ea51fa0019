package main

import "github.com/urfave/cli/v2"

// renderCommand is a placeholder until its issue lands.
func renderCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "render",
		Usage:  "write the nginx image build context",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("render is not implemented yet") },
	}
}
