package cli

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/authctl/authctl/client"
)

// capture is a run function that keeps the Options it is handed.
func capture[O any](got *any) func(context.Context, *O) error {
	return func(_ context.Context, o *O) error {
		*got = o
		return nil
	}
}

// inGroup hangs sub under a group named use that declares --db, as user and keys do.
func inGroup(f *Factory, use string, sub *cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use}
	addDBFlag(g, f)
	g.AddCommand(sub)
	return g
}

// parse runs args through the root's global flags and pre-run with the command tree
// build returns, and gives back what the command's run function received.
func parse(t *testing.T, env map[string]string, build func(f *Factory, got *any) *cobra.Command, args ...string) (any, error) {
	t.Helper()
	ios, _, _, _ := Test()
	f := NewFactory(BuildInfo{Version: "v9.9.9", Commit: "c0ffee", Date: "2026-01-02"}, ios, func(k string) string { return env[k] })
	var got any
	root := newCmdRootOnly(f)
	root.AddCommand(build(f, &got))
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	err := root.ExecuteContext(t.Context())
	return got, err
}

func TestCommandsParseFlagsIntoOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		build func(f *Factory, got *any) *cobra.Command
		check func(o any) bool
	}{
		{"login reads -u and --password-stdin", nil, []string{"login", "-u", "bob", "--password-stdin"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdLogin(f, capture[LoginOptions](got)) },
			func(o any) bool {
				l := o.(*LoginOptions)
				return l.Username == "bob" && l.PasswordStdin && !l.JSON && l.EnvToken == "" && l.ConfigDir != nil
			}},
		{"login copies --json and AUTHCTL_TOKEN", map[string]string{"AUTHCTL_TOKEN": "tok"}, []string{"--json", "login"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdLogin(f, capture[LoginOptions](got)) },
			func(o any) bool { l := o.(*LoginOptions); return l.JSON && l.EnvToken == "tok" && l.Username == "" }},
		{"logout builds its client for --server", nil, []string{"--server", "HTTPS://Example.COM:443/", "logout"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdLogout(f, capture[LogoutOptions](got)) },
			func(o any) bool { return serverOf(o.(*LogoutOptions).Client) == "https://example.com" }},
		{"refresh takes the server from AUTHCTL_SERVER", map[string]string{"AUTHCTL_SERVER": "https://id.example/"}, []string{"refresh", "--json"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdRefresh(f, capture[RefreshOptions](got)) },
			func(o any) bool {
				r := o.(*RefreshOptions)
				return r.JSON && serverOf(r.Client) == "https://id.example"
			}},
		{"status gets the keystore of --keystore", map[string]string{"XDG_CONFIG_HOME": "/cfg"}, []string{"status", "--keystore", "file"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdStatus(f, capture[StatusOptions](got)) },
			func(o any) bool {
				ks, err := o.(*StatusOptions).Keystore()
				return err == nil && ks.Name() == "file /cfg/authctl/sessions.json"
			}},
		{"weather asks for 5 days by default", nil, []string{"weather"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdWeather(f, capture[WeatherOptions](got)) },
			func(o any) bool { return o.(*WeatherOptions).Days == 5 }},
		{"weather reads --days", nil, []string{"weather", "--days", "14", "--json"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdWeather(f, capture[WeatherOptions](got)) },
			func(o any) bool { w := o.(*WeatherOptions); return w.Days == 14 && w.JSON }},
		{"token decode without an argument takes the stored token", nil, []string{"decode"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenDecode(f, capture[TokenDecodeOptions](got))
			},
			func(o any) bool { return o.(*TokenDecodeOptions).Arg == TokenArg{Stored: true} }},
		{"token decode - reads stdin", nil, []string{"decode", "-"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenDecode(f, capture[TokenDecodeOptions](got))
			},
			func(o any) bool { return o.(*TokenDecodeOptions).Arg == TokenArg{Token: "-"} }},
		{"token decode with an empty argument decodes it, not the stored token", nil, []string{"decode", ""},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenDecode(f, capture[TokenDecodeOptions](got))
			},
			func(o any) bool { return o.(*TokenDecodeOptions).Arg == TokenArg{} }},
		{"token verify reads its flags", nil, []string{"verify", "a.b.c", "--key", "k.pem", "--alg", "ES256", "--issuer", "https://id", "--audience", "api"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenVerify(f, capture[TokenVerifyOptions](got))
			},
			func(o any) bool {
				v := o.(*TokenVerifyOptions)
				return v.Arg.Token == "a.b.c" && v.KeyFile == "k.pem" && v.JWKSURL == "" && v.Alg == "ES256" && v.Issuer == "https://id" && v.Audience == "api"
			}},
		{"token print copies --json", nil, []string{"print", "--json"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdTokenPrint(f, capture[TokenPrintOptions](got)) },
			func(o any) bool { return o.(*TokenPrintOptions).JSON }},
		{"version copies the build and --json", nil, []string{"version", "--json"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdVersion(f, capture[VersionOptions](got)) },
			func(o any) bool {
				v := o.(*VersionOptions)
				return v.JSON && v.Build.Version == "v9.9.9" && v.Build.Commit == "c0ffee"
			}},
		{"completion names the shell and the tree", nil, []string{"completion", "fish"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdCompletion(f, capture[CompletionOptions](got)) },
			func(o any) bool {
				c := o.(*CompletionOptions)
				return c.Shell == "fish" && c.Root != nil && c.Root.Name() == "authctl"
			}},
		{"serve takes -v from the root and --db from AUTHCTL_DB", map[string]string{"AUTHCTL_DB": "/env.db"}, []string{"-v", "serve"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdServe(f, capture[ServeOptions](got)) },
			func(o any) bool { s := o.(*ServeOptions); return s.Verbose && s.DB == "/env.db" && s.IO != nil }},
		{"user add reads NAME, --role and the group's --db", nil, []string{"user", "add", "alice", "--role", "ops", "--db", "/x.db"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "user", NewCmdUserAdd(f, capture[UserAddOptions](got)))
			},
			func(o any) bool {
				u := o.(*UserAddOptions)
				return u.Name == "alice" && u.Role == "ops" && u.DB == "/x.db" && !u.PasswordStdin
			}},
		{"user add takes --db before the subcommand too", nil, []string{"user", "--db", "/y.db", "add", "bob"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "user", NewCmdUserAdd(f, capture[UserAddOptions](got)))
			},
			func(o any) bool {
				u := o.(*UserAddOptions)
				return u.Name == "bob" && u.Role == "user" && u.DB == "/y.db"
			}},
		{"user passwd reads --password-stdin and AUTHCTL_DB", map[string]string{"AUTHCTL_DB": "/env.db"}, []string{"user", "passwd", "carol", "--password-stdin"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "user", NewCmdUserPasswd(f, capture[UserPasswdOptions](got)))
			},
			func(o any) bool {
				u := o.(*UserPasswdOptions)
				return u.Name == "carol" && u.PasswordStdin && u.DB == "/env.db"
			}},
		{"user delete reads NAME", nil, []string{"user", "delete", "dave"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "user", NewCmdUserDelete(f, capture[UserDeleteOptions](got)))
			},
			func(o any) bool { return o.(*UserDeleteOptions).Name == "dave" }},
		{"user list copies --json", nil, []string{"--json", "user", "list"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "user", NewCmdUserList(f, capture[UserListOptions](got)))
			},
			func(o any) bool { return o.(*UserListOptions).JSON }},
		{"keys rotate defaults to EdDSA and still accepts --access-ttl", nil, []string{"keys", "rotate", "--access-ttl", "10m", "--db", "/k.db"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "keys", NewCmdKeysRotate(f, capture[KeysRotateOptions](got)))
			},
			func(o any) bool { k := o.(*KeysRotateOptions); return k.Alg == "EdDSA" && k.DB == "/k.db" }},
		{"keys rotate reads --signing-alg", nil, []string{"keys", "rotate", "--signing-alg", "RS256"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "keys", NewCmdKeysRotate(f, capture[KeysRotateOptions](got)))
			},
			func(o any) bool { return o.(*KeysRotateOptions).Alg == "RS256" }},
		{"keys list copies --json", nil, []string{"keys", "list", "--json"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "keys", NewCmdKeysList(f, capture[KeysListOptions](got)))
			},
			func(o any) bool { return o.(*KeysListOptions).JSON }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(t, c.env, c.build, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !c.check(got) {
				t.Errorf("%+v", got)
			}
		})
	}
}

// serverOf is the server a client constructor builds for, or the error.
func serverOf(newClient func() (*client.Client, error)) string {
	c, err := newClient()
	if err != nil {
		return err.Error()
	}
	return c.Server()
}

func TestBadFlagsNeverReachTheRunFunction(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		args  []string
		build func(f *Factory, got *any) *cobra.Command
		want  string
	}{
		{"weather --days 0", []string{"weather", "--days", "0"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdWeather(f, capture[WeatherOptions](got)) },
			"--days must be from 1 to 14, not 0"},
		{"token verify with two key sources", []string{"verify", "--key", "k", "--secret-file", "s"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenVerify(f, capture[TokenVerifyOptions](got))
			},
			"at most one of --jwks, --key or --secret-file"},
		{"token verify --alg none", []string{"verify", "--key", "k", "--alg", "none"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdTokenVerify(f, capture[TokenVerifyOptions](got))
			},
			"--alg must be EdDSA, ES256, RS256 or HS256"},
		{"keys rotate --signing-alg none", []string{"keys", "rotate", "--signing-alg", "none"},
			func(f *Factory, got *any) *cobra.Command {
				return inGroup(f, "keys", NewCmdKeysRotate(f, capture[KeysRotateOptions](got)))
			},
			`--signing-alg must be EdDSA, ES256, RS256 or HS256, not "none"`},
		{"a bad --keystore", []string{"--keystore", "vault", "status"},
			func(f *Factory, got *any) *cobra.Command { return NewCmdStatus(f, capture[StatusOptions](got)) },
			"--keystore must be auto, keyring or file"},
		{"a bad --server", []string{"--server", "http://u:p@host", "status"},
			func(f *Factory, got *any) *cobra.Command {
				return NewCmdStatus(f, func(_ context.Context, o *StatusOptions) error { _, err := o.Client(); return err })
			},
			"--server:"},
	} {
		t.Run(c.name+" is a usage error", func(t *testing.T) {
			t.Parallel()
			got, err := parse(t, nil, c.build, c.args...)
			var fe *FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want a FlagError with %q", err, c.want)
			}
			if got != nil {
				t.Errorf("the run function got %+v", got)
			}
		})
	}
}

// newCmd fills the OutputOptions every Options embeds; a command whose own fill reset them
// (as `*o = XOptions{…}` would) would print to nil streams or ignore --json.
func TestEveryKindOfOptionsGetsItsOutputOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		args  []string
		build func(f *Factory, got *any) *cobra.Command
	}{
		{"a store command", []string{"--json", "user", "sessions", "alice"}, func(f *Factory, got *any) *cobra.Command {
			return inGroup(f, "user", NewCmdUserSessions(f, capture[UserSessionsOptions](got)))
		}},
		{"a client command", []string{"--json", "sessions"}, func(f *Factory, got *any) *cobra.Command {
			return NewCmdSessions(f, capture[SessionsOptions](got))
		}},
		{"a command with its own fill", []string{"--json", "switch", "https://id.example"}, func(f *Factory, got *any) *cobra.Command {
			return NewCmdSwitch(f, capture[SwitchOptions](got))
		}},
		{"an offline tool", []string{"--json", "sign", "--key", "k.pem"}, func(f *Factory, got *any) *cobra.Command {
			return NewCmdTokenSign(f, capture[TokenSignOptions](got))
		}},
	} {
		t.Run(c.name+" gets streams, clock and --json", func(t *testing.T) {
			t.Parallel()
			got, err := parse(t, nil, c.build, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			o := got.(interface{ output() *OutputOptions }).output()
			if o.IO == nil || o.Now == nil || !o.JSON {
				t.Errorf("OutputOptions %+v, want streams, a clock and JSON", *o)
			}
		})
	}
}
