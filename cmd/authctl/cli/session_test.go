package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/authctl/authctl/client"
)

// TestLoginRefusesAUTHCTLTOKENBeforeAsking: with AUTHCTL_TOKEN set no login can happen,
// so nothing may be asked for or read first — a typed password would be wasted, and one
// read from stdin would be gone for whatever comes next in the script.
func TestLoginRefusesAUTHCTLTOKENBeforeAsking(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"on a terminal, without -u", true, []string{"login"}},
		{"with --password-stdin", false, []string{"login", "-u", "admin", "--password-stdin"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ios, in, out, errOut := Test()
			const input = "admin\nadmin-password\n"
			in.WriteString(input)
			ios.SetTTY(c.tty, c.tty)
			env := map[string]string{"AUTHCTL_TOKEN": "eyJhbGciOiJub25lIn0.e30.x", "AUTHCTL_SERVER": "http://127.0.0.1:1", "XDG_CONFIG_HOME": t.TempDir()}
			err := Execute(context.Background(), NewFactory(BuildInfo{}, ios, func(k string) string { return env[k] }), c.args)
			if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "AUTHCTL_TOKEN is set") {
				t.Errorf("err %v (exit %d), want the AUTHCTL_TOKEN usage error", err, ExitCode(err))
			}
			if in.String() != input {
				t.Errorf("stdin was read: %q left of %q", in.String(), input)
			}
			if out.Len() != 0 || errOut.Len() != 0 {
				t.Errorf("prompted or printed: stdout %q, stderr %q", out, errOut)
			}
		})
	}
}

// TestLoginRefusesCleartextBeforeAsking: a password for a server reached over plain
// http:// beyond loopback is neither asked for nor read: it could not be sent anyway.
func TestLoginRefusesCleartextBeforeAsking(t *testing.T) {
	t.Parallel()
	const input = "admin-password\n"
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"a host that is not loopback", nil, []string{"--server", "http://vm.example:5310", "login", "-u", "admin", "--password-stdin"}, ExitUsage},
		{"AUTHCTL_INSECURE lets it through (and it fails later)", map[string]string{"AUTHCTL_INSECURE": "1"},
			[]string{"--server", "http://vm.invalid:5310", "login", "-u", "admin", "--password-stdin"}, ExitFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "AUTHCTL_KEYSTORE": "file"}
			for k, v := range c.env {
				env[k] = v
			}
			r := runCLIWith(t, env, input, false, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			if c.code == ExitUsage && (!strings.Contains(r.stderr, "refusing plain http://") || !strings.Contains(r.stderr, "--insecure")) {
				t.Errorf("stderr %q", r.stderr)
			}
			if c.code == ExitFailed && strings.Count(r.stderr, "warning: --insecure") != 1 {
				t.Errorf("stderr %q: want one --insecure warning", r.stderr)
			}
		})
	}
}

func TestHintsNameTheServerTheyNeed(t *testing.T) {
	t.Parallel()
	o := &ClientOptions{LoginDefault: "http://localhost:5000"}
	if got := o.loginCmd("http://localhost:5000"); got != "authctl login" {
		t.Errorf("default server: %q", got)
	}
	if got := o.loginCmd("https://id.example"); got != "authctl login --server https://id.example" {
		t.Errorf("another server: %q", got)
	}
	c := client.New("https://id.example")
	err := o.clientErr(c, client.ErrSessionEnded)
	if ExitCode(err) != ExitAuthRequired || err.Error() != "session expired or revoked — run `authctl login --server https://id.example`" {
		t.Errorf("%v (exit %d)", err, ExitCode(err))
	}
}
