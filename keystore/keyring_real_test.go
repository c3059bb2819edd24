package keystore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// realKeyring returns a store on the Secret Service of the session bus (gnome-keyring under
// dbus-run-session in CI). It skips only when there is no bus; with a bus, or with
// AUTHCTL_TEST_KEYRING=1, a keyring that does not work fails the test.
func realKeyring(t *testing.T) *keyringStore {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("AUTHCTL_TEST_KEYRING") == "1" {
			t.Fatal("AUTHCTL_TEST_KEYRING=1 but DBUS_SESSION_BUS_ADDRESS is unset")
		}
		t.Skip("no D-Bus session bus; run under dbus-run-session with gnome-keyring-daemon")
	}
	return NewKeyring(10 * time.Second).(*keyringStore)
}

// testServer is a server name no other run or test uses, removed from the keyring at the end.
func testServer(t *testing.T, k *keyringStore) string {
	t.Helper()
	server := fmt.Sprintf("http://keyring-test-%d.invalid", time.Now().UnixNano())
	t.Cleanup(func() { k.Delete(context.Background(), server) })
	return server
}

// stored lists the user names the Secret Service holds for server, straight from go-keyring.
func stored(t *testing.T, server string, maxPart int) []string {
	t.Helper()
	var users []string
	for _, u := range []string{server} {
		if _, err := keyring.Get(Service, u); err == nil {
			users = append(users, u)
		} else if !errors.Is(err, keyring.ErrNotFound) {
			t.Fatalf("go-keyring Get %s: %v", u, err)
		}
	}
	for i := 1; i <= maxPart; i++ {
		if _, err := keyring.Get(Service, partKey(server, i)); err == nil {
			users = append(users, partKey(server, i))
		} else if !errors.Is(err, keyring.ErrNotFound) {
			t.Fatalf("go-keyring Get part %d: %v", i, err)
		}
	}
	return users
}

func TestRealKeyring(t *testing.T) {
	ctx := context.Background()
	k := realKeyring(t)

	t.Run("a session round-trips and deletes", func(t *testing.T) {
		server := testServer(t, k)
		if _, err := k.Load(ctx, server); !errors.Is(err, ErrNotFound) {
			t.Fatalf("before saving: %v", err)
		}
		s := session(server, 100)
		if err := k.Save(ctx, s); err != nil {
			t.Fatalf("save to the real keyring: %v", err)
		}
		if got, err := k.Load(ctx, server); err != nil || got != s {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
		if err := k.Delete(ctx, server); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Load(ctx, server); !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		if err := k.Delete(ctx, server); err != nil {
			t.Errorf("deleting again: %v", err)
		}
	})
	t.Run("a session with a 6 KB access token is split, reassembled and wholly deleted", func(t *testing.T) {
		server := testServer(t, k)
		big := session(server, 6000)
		if err := k.Save(ctx, big); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, server, 8); len(got) != 5 {
			t.Fatalf("stored as %v, want the header and 4 parts", got)
		}
		if v, _ := keyring.Get(Service, server); v != "authctl-chunks:4" {
			t.Errorf("header = %q", v)
		}
		if got, err := k.Load(ctx, server); err != nil || got != big {
			t.Fatalf("chunked round trip: %v", err)
		}
		if err := k.Delete(ctx, server); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, server, 8); len(got) != 0 {
			t.Errorf("left behind: %v", got)
		}
	})
	t.Run("a save that shrinks deletes the stale parts", func(t *testing.T) {
		server := testServer(t, k)
		if err := k.Save(ctx, session(server, 6000)); err != nil {
			t.Fatal(err)
		}
		small := session(server, 10)
		if err := k.Save(ctx, small); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, server, 8); len(got) != 1 || got[0] != server {
			t.Errorf("stored as %v, want the one entry", got)
		}
		if got, err := k.Load(ctx, server); err != nil || got != small {
			t.Errorf("round trip: %v", err)
		}
	})
	t.Run("secret-tool sees the entries under service authctl", func(t *testing.T) {
		if _, err := exec.LookPath("secret-tool"); err != nil {
			t.Skip("secret-tool not installed")
		}
		server := testServer(t, k)
		if err := k.Save(ctx, session(server, 3000)); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("secret-tool", "search", "--all", "service", Service, "username", partKey(server, 2)).CombinedOutput()
		if err != nil || !strings.Contains(string(out), partKey(server, 2)) {
			t.Errorf("secret-tool search: %v\n%s", err, out)
		}
	})
	t.Run("auto mode with a reachable keyring uses it", func(t *testing.T) {
		st, err := Open(Options{Dir: t.TempDir(), Warn: failWriter{t}})
		if err != nil {
			t.Fatal(err)
		}
		server := testServer(t, k)
		s := session(server, 10)
		if err := st.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		if st.Name() != "keyring (service authctl)" {
			t.Errorf("Name() = %q", st.Name())
		}
		if got, err := k.Load(ctx, server); err != nil || got != s {
			t.Errorf("not in the keyring: %v", err)
		}
	})
}

type failWriter struct{ t *testing.T }

func (w failWriter) Write(p []byte) (int, error) {
	w.t.Errorf("unexpected warning: %s", p)
	return len(p), nil
}
