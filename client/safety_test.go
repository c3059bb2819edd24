package client

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authctl/authctl/keystore"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "localhost": true, "LOCALHOST.": true, "app.localhost": true,
		"10.0.0.1": false, "vm": false, "example.com": false, "localhost.example.com": false, "::": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestServerURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		added    bool
	}{
		{"127.0.0.1:5301", "http://127.0.0.1:5301", true},
		{"localhost:5000", "http://localhost:5000", true},
		{"[::1]:5000", "http://[::1]:5000", true},
		{"id.example.com", "https://id.example.com", true},
		{"id.example.com:8443/auth", "https://id.example.com:8443/auth", true},
		{"vm:5310", "https://vm:5310", true},
		{"http://vm:5310", "http://vm:5310", false},
		{"https://127.0.0.1", "https://127.0.0.1", false},
		{"", "", false},
	} {
		got, added := ServerURL(c.in)
		if got != c.want || added != c.added {
			t.Errorf("ServerURL(%q) = %q, %v; want %q, %v", c.in, got, added, c.want, c.added)
		}
	}
}

// viaName is an HTTP client that reaches the loopback server f under the name host (not
// loopback), as a server on another machine would be reached.
func viaName(f *fakeServer, host string) (*http.Client, string) {
	u, _ := url.Parse(f.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}
	return &http.Client{Transport: tr}, "http://" + host + ":" + u.Port()
}

func TestCleartextIsRefusedBeyondLoopback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a login to a host that is not loopback never leaves the machine", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		hc, base := viaName(f, "vm.test")
		c := New(base, WithHTTPClient(hc), WithSessions(newMemStore()), WithLockDir(t.TempDir()))
		if err := c.CheckTransport(); !errors.Is(err, ErrInsecureHTTP) || !strings.Contains(err.Error(), "vm.test") {
			t.Errorf("CheckTransport = %v", err)
		}
		if _, err := c.Login(ctx, "alice", password); !errors.Is(err, ErrInsecureHTTP) || errors.Is(err, ErrOffline) {
			t.Errorf("Login = %v", err)
		}
		if f.logins.Load() != 0 {
			t.Error("the password reached the server in clear")
		}
	})
	t.Run("WithInsecureHTTP lets it through", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		hc, base := viaName(f, "vm.test")
		c := New(base, WithHTTPClient(hc), WithSessions(newMemStore()), WithLockDir(t.TempDir()), WithInsecureHTTP())
		if err := c.CheckTransport(); err != nil {
			t.Errorf("CheckTransport = %v", err)
		}
		if _, err := c.Login(ctx, "alice", password); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Weather(ctx, 1); err != nil {
			t.Errorf("Weather = %v", err)
		}
	})
	t.Run("a redirect from loopback to a cleartext host is not followed", func(t *testing.T) {
		t.Parallel()
		var reached atomic.Bool
		other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) }))
		t.Cleanup(other.Close)
		u, _ := url.Parse(other.URL)
		own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://vm.test:"+u.Port()+"/x", http.StatusFound)
		}))
		t.Cleanup(own.Close)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "vm.test:") {
				addr = u.Host
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		c := New(own.URL, WithHTTPClient(&http.Client{Transport: tr}), WithStaticToken("tok"))
		req, _ := http.NewRequest(http.MethodGet, own.URL+"/start", nil)
		if _, err := c.Do(req); !errors.Is(err, ErrInsecureHTTP) {
			t.Errorf("Do = %v", err)
		}
		if reached.Load() {
			t.Error("the cleartext host was reached")
		}
	})
	t.Run("loopback over http is fine", func(t *testing.T) {
		t.Parallel()
		if Cleartext("http://127.0.0.1:5000") || Cleartext("http://localhost") || Cleartext("https://vm") || !Cleartext("http://vm") {
			t.Error("Cleartext")
		}
	})
}

// writeCert writes the TLS server's certificate as a PEM file, as a private CA's would be.
func writeCert(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrivateCA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, Me{Name: "alice"})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes below are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)

	t.Run("an untrusted certificate is a TLS error that says what to pass", func(t *testing.T) {
		t.Parallel()
		tr, err := NewTransport("")
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(srv.URL, WithHTTPClient(&http.Client{Transport: tr}), WithStaticToken("tok")).Me(ctx)
		if !errors.Is(err, ErrTLS) || !errors.Is(err, ErrOffline) {
			t.Fatalf("Me = %v", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "unknown authority") || !strings.Contains(msg, "--ca-file") || strings.Contains(msg, srv.URL) {
			t.Errorf("message %q: want the reason and --ca-file, without the URL", msg)
		}
	})
	t.Run("--ca-file makes it trusted", func(t *testing.T) {
		t.Parallel()
		tr, err := NewTransport(writeCert(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		me, err := New(srv.URL, WithHTTPClient(&http.Client{Transport: tr}), WithStaticToken("tok")).Me(ctx)
		if err != nil || me.Name != "alice" {
			t.Errorf("Me = %+v, %v", me, err)
		}
	})
	t.Run("a CA file without a certificate is refused", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "empty.pem")
		os.WriteFile(path, []byte("not a certificate"), 0o600)
		if _, err := NewTransport(path); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Errorf("NewTransport = %v", err)
		}
		if _, err := NewTransport(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
			t.Error("a missing file was accepted")
		}
	})
	t.Run("http:// to a TLS port says to use https://", func(t *testing.T) {
		t.Parallel()
		plain := "http://" + strings.TrimPrefix(srv.URL, "https://")
		_, err := New(plain, WithStaticToken("tok")).Me(ctx)
		if err == nil || !strings.Contains(err.Error(), "speaks HTTPS") {
			t.Errorf("Me = %v", err)
		}
	})
	t.Run("https:// to a plain port says it does not speak TLS", func(t *testing.T) {
		t.Parallel()
		f := newFake(t)
		_, err := New("https://"+strings.TrimPrefix(f.URL, "http://"), WithStaticToken("tok")).Me(ctx)
		if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "does not speak TLS") {
			t.Errorf("Me = %v", err)
		}
	})
}

func TestLoginRevokesTheSessionItReplaces(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t)
	store := newMemStore()
	c := loggedIn(t, f, store)
	first := stored(t, c)

	r, err := c.LoginReplacing(ctx, "bob", password)
	if err != nil {
		t.Fatal(err)
	}
	if r.Replaced == nil || r.Replaced.RefreshToken != first.RefreshToken || r.RevokeErr != nil {
		t.Errorf("Replaced %+v, RevokeErr %v", r.Replaced, r.RevokeErr)
	}
	if f.validRefresh(first.RefreshToken) {
		t.Error("the replaced session is still valid on the server")
	}
	if got := stored(t, c); got.Username != "bob" || !f.validRefresh(got.RefreshToken) {
		t.Errorf("stored %q, valid %v", got.Username, f.validRefresh(got.RefreshToken))
	}
	if f.logouts.Load() != 1 {
		t.Errorf("%d logouts", f.logouts.Load())
	}

	t.Run("a first login has nothing to revoke", func(t *testing.T) {
		f := newFake(t)
		r, err := New(f.URL, WithSessions(newMemStore()), WithLockDir(t.TempDir())).LoginReplacing(ctx, "alice", password)
		if err != nil || r.Replaced != nil || f.logouts.Load() != 0 {
			t.Errorf("%+v, %v, %d logouts", r, err, f.logouts.Load())
		}
	})
}

// FuzzServerURL: whatever is typed after --server, a completed URL that normalises is an
// http(s) URL, plain http only for a loopback host when the scheme was added, and stable.
func FuzzServerURL(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5301", "localhost", "[::1]:80/x", "vm:5310", "id.example/auth", "http://a", "::1", "a b", "%zz:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		full, added := ServerURL(raw)
		norm, err := keystore.NormalizeServer(full)
		if err != nil {
			return
		}
		u, err := url.Parse(norm)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("%q → %q → %q (%v)", raw, full, norm, err)
		}
		if added && u.Scheme == "http" && !IsLoopback(u.Hostname()) {
			t.Fatalf("%q got plain http:// for a host that is not loopback: %q", raw, norm)
		}
		if again, _ := ServerURL(norm); again != norm {
			t.Fatalf("%q → %q, then %q", raw, norm, again)
		}
	})
}
