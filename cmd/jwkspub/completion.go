package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Shell completion: urfave/cli answers `jwkspub ... --generate-bash-completion` with the
// commands or flags that fit (EnableBashCompletion); these scripts ask it on every <TAB>.
const bashCompletion = `# bash completion for jwkspub: source it, or put it in /etc/bash_completion.d/jwkspub
_jwkspub_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]} words
	if [[ $cur == -* ]]; then
		words=$("${COMP_WORDS[@]:0:COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		words=$("${COMP_WORDS[@]:0:COMP_CWORD}" --generate-bash-completion 2>/dev/null)
	fi
	mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -o bashdefault -o default -F _jwkspub_complete jwkspub
`

const zshCompletion = `#compdef jwkspub
# zsh completion for jwkspub: put it in a directory on $fpath as _jwkspub
_jwkspub() {
	local -a opts
	local cur=${words[CURRENT]}
	if [[ $cur == -* ]]; then
		opts=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
	else
		opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
	fi
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
				_, err = fmt.Fprint(e.stdout, script)
				return err
			default:
				return usagef("--shell %q: use bash, zsh or fish", sh)
			}
		},
	}
}
