package main

import "github.com/urfave/cli/v2"

// statusCommand is a placeholder until its issue lands.
func statusCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "status",
		Usage:  "per kid: first published, safe to sign with from, superseded, removable from",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("status is not implemented yet") },
	}
}
