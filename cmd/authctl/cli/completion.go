package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// CompletionOptions are `authctl completion`'s.
type CompletionOptions struct {
	OutputOptions
	Shell string         // bash, zsh, fish or powershell
	Root  *cobra.Command // the tree to complete
}

func (o *CompletionOptions) fill(f *Factory, cmd *cobra.Command, args []string) error {
	o.Shell, o.Root = args[0], cmd.Root()
	return nil
}

// NewCmdCompletion prints a shell completion script.
func NewCmdCompletion(f *Factory, runF func(context.Context, *CompletionOptions) error) *cobra.Command {
	return newCmd(f, &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script for commands, flags and their values (--keystore,
--alg …).

bash: the script needs the bash-completion package (version 2.x: apt install
bash-completion, brew install bash-completion@2, dnf install bash-completion), loaded
from ~/.bashrc; without it bash prints "_get_comp_words_by_ref: command not found".
zsh: compinit must be enabled (autoload -U compinit; compinit in ~/.zshrc).`,
		Example: `  source <(authctl completion bash)                       # this shell only
  authctl completion bash > ~/.local/share/bash-completion/completions/authctl
  authctl completion zsh > "${fpath[1]}/_authctl"
  authctl completion fish > ~/.config/fish/completions/authctl.fish
  authctl completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
	}, runF, completionRun, nil)
}

func completionRun(_ context.Context, opts *CompletionOptions) error {
	out := opts.IO.Out
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(out, true)
	case "zsh":
		return opts.Root.GenZshCompletion(out)
	case "fish":
		return opts.Root.GenFishCompletion(out, true)
	}
	return opts.Root.GenPowerShellCompletionWithDesc(out)
}
