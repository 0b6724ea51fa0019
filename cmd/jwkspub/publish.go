package main

import "github.com/urfave/cli/v2"

// publishCommand is a placeholder until its issue lands.
func publishCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "publish",
		Usage:  "plan, rotation guard, write to every target, read back",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("publish is not implemented yet") },
	}
}
