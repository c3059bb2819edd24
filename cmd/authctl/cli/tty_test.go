//go:build linux

package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// openPTY opens a pseudo-terminal: what the test writes to the returned writer, a command
// reading the returned file reads as typed on a real terminal (no echo for passwords,
// line by line). Whatever the terminal echoes is discarded.
func openPTY(t *testing.T) (typing io.Writer, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	go io.Copy(io.Discard, ptmx) // the echo, so the terminal's output never fills up
	return ptmx, tty
}

// runOnTerminal runs authctl with stdin a terminal on which typed was typed, and stdout
// a terminal too (the streams say so; the output is captured).
func runOnTerminal(t *testing.T, env map[string]string, typed string, args ...string) result {
	t.Helper()
	keys, tty := openPTY(t)
	if _, err := io.WriteString(keys, typed); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	ios := &IOStreams{In: tty, Out: &out, ErrOut: &errOut}
	ios.SetTTY(true, true)
	f := NewFactory(BuildInfo{Version: "test"}, ios, func(k string) string { return env[k] })
	err := Execute(context.Background(), f, args)
	printError(&errOut, err)
	return result{code: ExitCode(err), stdout: out.String(), stderr: errOut.String()}
}

func TestUserDeleteAsksOnATerminal(t *testing.T) {
	t.Parallel()
	env, _ := userEnv(t)
	for _, name := range []string{"carol", "dave", "erin"} {
		if r := runCLIWith(t, env, name+"-password", false, "user", "add", name, "--password-stdin"); r.code != 0 {
			t.Fatalf("add %s: %+v", name, r)
		}
	}
	users := func() string { return runCLI(t, env, "user", "list").stdout }

	for _, c := range []struct {
		name, typed string
		deleted     bool
	}{
		{"n keeps the user", "n\n", false},
		{"Enter alone keeps the user", "\n", false},
		{"anything but yes keeps the user", "sure\n", false},
		{"y deletes", "y\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := "carol"
			if c.deleted {
				user = "dave"
			}
			r := runOnTerminal(t, env, c.typed, "user", "delete", user)
			if !strings.Contains(r.stderr, "Delete user "+user+" and end their sessions? [y/N] ") {
				t.Errorf("not asked: %+v", r)
			}
			listed := strings.Contains(users(), user+" ")
			switch {
			case c.deleted && (r.code != 0 || listed || !strings.Contains(r.stderr, "deleted user "+user)):
				t.Errorf("not deleted: %+v", r)
			case !c.deleted && (r.code != ExitFailed || !listed || !strings.Contains(r.stderr, "authctl: user "+user+" not deleted\n")):
				t.Errorf("deleted or wrong exit: %+v", r)
			}
		})
	}
	t.Run("YES in capitals deletes", func(t *testing.T) {
		if r := runOnTerminal(t, env, "YES\n", "user", "delete", "erin"); r.code != 0 || strings.Contains(users(), "erin ") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("a user who is not there is not asked about", func(t *testing.T) {
		r := runOnTerminal(t, env, "y\n", "user", "delete", "nobody")
		if r.code != ExitFailed || strings.Contains(r.stderr, "[y/N]") || !strings.Contains(r.stderr, "authctl: no user nobody") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("--yes does not ask", func(t *testing.T) {
		r := runOnTerminal(t, env, "", "user", "delete", "carol", "--yes")
		if r.code != 0 || strings.Contains(r.stderr, "[y/N]") || strings.Contains(users(), "carol ") {
			t.Errorf("%+v", r)
		}
	})
}

func TestUserAddAsksAgainWhenTheRepeatDiffers(t *testing.T) {
	t.Parallel()
	env, db := userEnv(t)

	t.Run("a mismatch asks again and the matching pair is kept", func(t *testing.T) {
		r := runOnTerminal(t, env, "first-password\nfirst-passwort\nsecond-password\nsecond-password\n", "user", "add", "alice")
		if r.code != 0 || strings.Count(r.stderr, "New password: ") != 2 || !strings.Contains(r.stderr, "The passwords differ; try again.") {
			t.Fatalf("%+v", r)
		}
		if strings.Contains(r.stderr, "-password") {
			t.Errorf("a password was echoed: %q", r.stderr)
		}
		if !passwordIs(t, db, "alice", "second-password") {
			t.Error("the matching pair is not the password")
		}
	})
	t.Run("no password is asked for a name that is taken or a user who is not there", func(t *testing.T) {
		for _, args := range [][]string{{"user", "add", "alice"}, {"user", "passwd", "nobody"}} {
			r := runOnTerminal(t, env, "some-password\nsome-password\n", args...)
			if r.code != ExitFailed || strings.Contains(r.stderr, "password: ") {
				t.Errorf("%v: %+v", args, r)
			}
		}
	})
	t.Run("three mismatches give up", func(t *testing.T) {
		r := runOnTerminal(t, env, "aaaaaaaa1\nbbbbbbbb1\naaaaaaaa2\nbbbbbbbb2\naaaaaaaa3\nbbbbbbbb3\n", "user", "add", "bob")
		if r.code != ExitFailed || !strings.HasSuffix(r.stderr, "authctl: the passwords differ\n") || strings.Count(r.stderr, "New password: ") != 3 {
			t.Errorf("%+v", r)
		}
		if strings.Contains(runCLI(t, env, "user", "list").stdout, "bob") {
			t.Error("bob was added")
		}
	})
}

// passwordIs reports whether user's stored password in db is password.
func passwordIs(t *testing.T, db, user, password string) bool {
	t.Helper()
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByName(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := server.NewPasswordHasher(server.DefaultArgon2, 0).Verify(t.Context(), u.PasswordHash, password)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
