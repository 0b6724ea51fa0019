package main

import (
	"os/user"

	"github.com/urfave/cli/v2"
)

// actorFlag names who runs a publication: the state records it on every kid whose removal
// only --allow-removal or --force let through.
func actorFlag() cli.Flag {
	return &cli.StringFlag{Name: "actor", Usage: "`NAME` recorded in the state for removals an override allowed (default $GITHUB_ACTOR in GitHub Actions, else the OS user)", EnvVars: []string{"JWKSPUB_ACTOR"}}
}

// actorOf is --actor, else the GitHub actor in GitHub Actions, else the OS user's name.
func actorOf(c *cli.Context, e env) string {
	if a := c.String("actor"); a != "" {
		return a
	}
	if v, _ := e.lookup("GITHUB_ACTIONS"); v == "true" {
		if a, _ := e.lookup("GITHUB_ACTOR"); a != "" {
			return a
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if a, _ := e.lookup("USER"); a != "" {
		return a
	}
	return "unknown"
}
