package cli

import (
	"github.com/spf13/cobra"
)

// The groups `authctl --help` lists its commands in: what a user of a server runs, and
// what its operator runs where the store is.
const (
	groupClient = "client"
	groupAdmin  = "admin"
)

// adminCommands are the top-level commands that work on the server side: its process, its
// store (--db) and its keys. Every other command but the few about authctl itself is a
// client command, so one added later lands under "Client" without being listed here.
var adminCommands = map[string]bool{"serve": true, "user": true, "keys": true, "backup": true}

// aboutAuthctl are left under cobra's "Additional Commands".
var aboutAuthctl = map[string]bool{"version": true, "completion": true, "help": true}

// clientFlags are the global flags that only commands talking to a server use; the help
// of the administration commands leaves them out. A command under those that does talk to
// a server says so with the annotation usesServer.
var clientFlags = []string{"server", "keystore", "insecure", "ca-file"}

// usesServer is the annotation key by which an administration command asks for the client
// flags in its help.
const usesServer = "authctl/uses-server"

// organizeHelp sorts root's commands into the help groups, keeps the client flags out of
// the administration commands' help and completes --keystore's values.
func organizeHelp(root *cobra.Command) {
	root.AddGroup(&cobra.Group{ID: groupClient, Title: "Client:"}, &cobra.Group{ID: groupAdmin, Title: "Server administration:"})
	for _, c := range root.Commands() {
		switch {
		case aboutAuthctl[c.Name()] || !c.IsAvailableCommand():
			// help topics and hidden commands have no group
		case adminCommands[c.Name()]:
			c.GroupID = groupAdmin
		default:
			c.GroupID = groupClient
		}
	}

	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if isAdmin(cmd) && cmd.Annotations[usesServer] == "" {
			// The flags are shared with the root, whose help must still show them: hide
			// them only while this help is printed.
			for _, name := range clientFlags {
				if fl := root.PersistentFlags().Lookup(name); fl != nil && !fl.Hidden {
					fl.Hidden = true
					defer func() { fl.Hidden = false }()
				}
			}
		}
		defaultHelp(cmd, args)
	})

	_ = root.RegisterFlagCompletionFunc("keystore", cobra.FixedCompletions(
		[]string{"auto\tthe OS keyring, else a file", "keyring\tthe OS keyring only", "file\ta 0600 file in the config dir"},
		cobra.ShellCompDirectiveNoFileComp))
}

// isAdmin reports whether cmd is, or is under, an administration command.
func isAdmin(cmd *cobra.Command) bool {
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		if !c.Parent().HasParent() {
			return c.GroupID == groupAdmin
		}
	}
	return false
}
