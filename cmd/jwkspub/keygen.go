package main

import "github.com/urfave/cli/v2"

// keygenCommand is a placeholder until its issue lands.
func keygenCommand(e env) *cli.Command {
	return &cli.Command{
		Name:   "keygen",
		Usage:  "make a key pair for people who have none yet",
		Hidden: true,
		Action: func(*cli.Context) error { return usagef("keygen is not implemented yet") },
	}
}
