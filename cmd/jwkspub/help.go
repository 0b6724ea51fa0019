package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// commandHelp completes each command's help: what it does (where the command has no
// Description of its own), an example, and the exit codes it can return. Kept in one table,
// next to the exit codes' meanings, so that help stays true as commands change.
var commandHelp = map[string]struct{ desc, examples, exits string }{
	"build": {
		desc: "Reads the set's sources, applies its policy and writes the JWK Set: to --output, or\n" +
			"stdout with -o -. Contacts no target. Every violation is reported at once.",
		examples: "jwkspub build --source file:keys/*.pem -o jwks.json\n" +
			"jwkspub build --config jwkspub.yaml --set prod -o -",
		exits: "0 written; 1 error (a source could not be read); 3 refused by the policy, or private\n" +
			"key input without --derive-public; 64 usage.",
	},
	"diff": {
		desc: "Reads what is live at each target of each set, builds the sets from their sources and\n" +
			"prints the plan: keys added, removed and changed, and the objects publish would write.\n" +
			"Runs the rotation guard as publish would. Writes nothing.",
		examples: "jwkspub diff --config jwkspub.yaml\n" +
			"jwkspub diff --config jwkspub.yaml --set prod --detailed-exitcode\n" +
			"jwkspub diff --config jwkspub.yaml --set prod --against https://auth.example.com/.well-known/jwks.json",
		exits: "0 no change (or changes without --detailed-exitcode); 1 error, a target could not be\n" +
			"read; 2 changes pending (--detailed-exitcode); 3 the rotation guard would refuse;\n" +
			"64 usage.",
	},
	"publish": {
		desc: "Plans every target as diff does, runs the rotation guard over all plans at once (one\n" +
			"refusal stops every target), then writes each changed target, every object\n" +
			"conditional on the revision read, and reads it back. A target another publisher\n" +
			"changed meanwhile is re-read, re-planned and re-guarded once.",
		examples: "jwkspub publish --config jwkspub.yaml\n" +
			"jwkspub publish --source file:keys/*.pem --target s3://bucket/.well-known/jwks.json?region=eu-west-1\n" +
			"jwkspub publish --config jwkspub.yaml --set prod --dry-run",
		exits: "0 every target published or unchanged; 1 error, no target written; 3 refused by the\n" +
			"policy or the rotation guard, nothing written; 4 partial: some targets written, others\n" +
			"stale; 64 usage.",
	},
	"status": {
		desc: "Reads the live document and state of each target (not the sources) and prints, per kid:\n" +
			"when it was first published, from when it is safe to sign with, when it was superseded\n" +
			"and from when it may be removed; and the key to sign with now.",
		examples: "jwkspub status --config jwkspub.yaml\n" +
			"jwkspub status --config jwkspub.yaml --set prod --format json",
		exits: "0 read; 1 error, a target could not be read; 64 usage.",
	},
	"verify": {
		examples: "jwkspub verify --url https://auth.example.com/.well-known/jwks.json\n" +
			"jwkspub verify --config jwkspub.yaml --set prod --url URL --expect --wait 15m\n" +
			"jwkspub verify --url URL --cors-origin https://app.example.com --token-file token.jwt",
		exits: "0 the document (and token) pass; 1 error: the URL could not be fetched (a 403 from a\n" +
			"private bucket included), or CORS does not allow the origin; 2 drift (--expect);\n" +
			"3 refused by the policy, or the token is rejected; 64 usage.",
	},
	"render": {
		examples: "jwkspub render --config jwkspub.yaml --set prod --dir build/\n" +
			"docker build build/",
		exits: "0 written; 1 error; 3 refused by the policy or the rotation guard; 64 usage.",
	},
	"keygen": {
		examples: "jwkspub keygen --kty EC --private-out signing.pem\n" +
			"jwkspub keygen --kty RSA --bits 4096 --private-out signing.pem --format json",
		exits: "0 written; 1 error (the file exists, or cannot be created); 64 usage.",
	},
	"version": {
		desc:     "Prints the version, commit and build date of this binary.",
		examples: "jwkspub version --format json",
		exits:    "0.",
	},
	"completion": {
		exits: "0; 64 usage (an unknown --shell).",
	},
}

// completeHelp adds the table's text to each command's Description.
func completeHelp(cmds []*cli.Command) {
	for _, cmd := range cmds {
		h, ok := commandHelp[cmd.Name]
		if !ok {
			continue
		}
		var b strings.Builder
		b.WriteString(cmd.Description)
		if cmd.Description == "" {
			b.WriteString(h.desc)
		}
		if h.examples != "" {
			b.WriteString("\n\nExamples:\n  " + strings.ReplaceAll(h.examples, "\n", "\n  "))
		}
		if h.exits != "" {
			b.WriteString("\n\nExit codes:\n  " + strings.ReplaceAll(h.exits, "\n", "\n  "))
		}
		cmd.Description = b.String()
	}
}
