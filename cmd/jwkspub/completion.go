package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/jwkspub/jwkspub/sources/vault"
)

// Shell completion: the scripts ask `jwkspub WORDS... CUR --generate-bash-completion` on every
// <TAB>, always passing the word being completed (empty after a space), and jwkspub answers
// with the commands, long flags or flag values that fit (complete, below).
const bashCompletion = `# bash completion for jwkspub: source it, or put it in /etc/bash_completion.d/jwkspub
_jwkspub_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]} words
	words=$("${COMP_WORDS[@]:0:COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -o bashdefault -o default -F _jwkspub_complete jwkspub
`

const zshCompletion = `#compdef jwkspub
# zsh completion for jwkspub: put it in a directory on $fpath as _jwkspub
_jwkspub() {
	local -a opts
	local cur=${words[CURRENT]}
	opts=("${(@f)$(${words[1,CURRENT-1]} "$cur" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${opts[1]} ]]; then
		_describe 'jwkspub' opts
	else
		_files
	fi
}
compdef _jwkspub jwkspub
`

func completionCommand(e env) *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash, zsh or fish)",
		Description: "bash:  source <(jwkspub completion --shell bash)\n" +
			"zsh:   jwkspub completion --shell zsh > \"${fpath[1]}/_jwkspub\"\n" +
			"fish:  jwkspub completion --shell fish > ~/.config/fish/completions/jwkspub.fish",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "shell", Value: "bash", Usage: "bash, zsh or fish"},
		},
		Action: func(c *cli.Context) error {
			switch sh := c.String("shell"); sh {
			case "bash":
				_, err := fmt.Fprint(e.stdout, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(e.stdout, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("fish completion: %w", err)
				}
				_, err = fmt.Fprint(e.stdout, script+fishValues(c.App))
				return err
			default:
				return usagef("--shell %q: use bash, zsh or fish", sh)
			}
		},
	}
}

// completionFlag ends a command line that asks for completions.
const completionFlag = "--generate-bash-completion"

// complete answers a completion request: words are the command line after the program name,
// the last one the word being completed (possibly empty). After a command it offers the
// command's long flags, or, after a flag that takes a value, the values it knows: --set from
// the configuration (--config, JWKSPUB_CONFIG or ./jwkspub.yaml), and each enumerated flag's
// choices. Nothing at all lets the shell fall back to file names.
func complete(app *cli.App, words []string, lookup func(string) (string, bool)) []string {
	cur := ""
	if len(words) > 0 {
		cur, words = words[len(words)-1], words[:len(words)-1]
	}
	var cmd *cli.Command
	for _, w := range words {
		if c := app.Command(w); c != nil && !strings.HasPrefix(w, "-") {
			cmd = c
			break
		}
	}
	var out []string
	add := func(cands ...string) {
		for _, c := range cands {
			if strings.HasPrefix(c, cur) {
				out = append(out, c)
			}
		}
	}
	if cmd == nil {
		if !strings.HasPrefix(cur, "-") {
			for _, c := range app.VisibleCommands() {
				add(c.Name)
			}
		}
		add("--help")
		return out
	}
	if len(words) > 0 {
		prev := words[len(words)-1]
		if name, ok := strings.CutPrefix(prev, "--"); ok && !strings.Contains(name, "=") {
			if f := flagNamed(cmd, name); f != nil && takesValue(f) {
				add(flagValues(name, words, lookup)...)
				return out
			}
		}
	}
	for _, f := range cmd.VisibleFlags() {
		for _, n := range f.Names() {
			if len(n) > 1 {
				add("--" + n)
			}
		}
	}
	return out
}

func flagNamed(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	dg, ok := f.(cli.DocGenerationFlag)
	return ok && dg.TakesValue()
}

// flagChoices are the values of the flags that take one of a few words.
var flagChoices = map[string][]string{
	"format":     {"text", "json"},
	"log-format": {"text", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
	"vault-auth": vault.AuthMethods,
	"shell":      {"bash", "zsh", "fish"},
	"kty":        {"RSA", "EC", "OKP"},
	"crv":        {"P-256", "P-384", "P-521", "Ed25519"},
}

// flagValues are the values to offer after --name.
func flagValues(name string, words []string, lookup func(string) (string, bool)) []string {
	if name != "set" {
		return flagChoices[name]
	}
	path := ""
	for i, w := range words {
		if v, ok := strings.CutPrefix(w, "--config="); ok {
			path = v
		} else if w == "--config" && i+1 < len(words) {
			path = words[i+1]
		}
	}
	if path == "" {
		if v, ok := lookup("JWKSPUB_CONFIG"); ok && v != "" {
			path = v
		} else {
			path = "jwkspub.yaml"
		}
	}
	// The names only, read leniently: completing must work while the file is being written.
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc struct {
		Sets []struct {
			Name string `yaml:"name"`
		} `yaml:"sets"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var names []string
	for _, s := range doc.Sets {
		if s.Name != "" {
			names = append(names, s.Name)
		}
	}
	return names
}

// fishValues adds the values of value flags to urfave's fish script, which completes flag
// names only: fish asks jwkspub, as bash and zsh do.
func fishValues(app *cli.App) string {
	var b strings.Builder
	b.WriteString("\n# Values of flags: asked of jwkspub itself.\n")
	b.WriteString("function __jwkspub_values\n\tset -l words (commandline -opc)\n\t$words (commandline -ct) " + completionFlag + " 2>/dev/null\nend\n")
	for _, cmd := range app.VisibleCommands() {
		for _, f := range cmd.VisibleFlags() {
			name := f.Names()[0]
			if name != "set" && flagChoices[name] == nil {
				continue
			}
			fmt.Fprintf(&b, "complete -c jwkspub -n '__fish_seen_subcommand_from %s' -l %s -x -a '(__jwkspub_values)'\n", cmd.Name, name)
		}
	}
	return b.String()
}
