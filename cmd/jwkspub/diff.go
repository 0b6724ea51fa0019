package main

import "github.com/urfave/cli/v2"

// diffCommand is a placeholder until its issue lands.
func diffCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "diff",
		Usage:  "show what publish would change at each target; writes nothing",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("diff is not implemented yet") },
	}
}
