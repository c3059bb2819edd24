package cli

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// parseServe runs serve's flag parsing and validation only.
func parseServe(t *testing.T, env map[string]string, args ...string) (*ServeOptions, error) {
	t.Helper()
	ios, _, _, _ := Test()
	f := NewFactory(BuildInfo{}, ios, func(k string) string { return env[k] })
	var got *ServeOptions
	cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&strings.Builder{})
	cmd.SetErr(&strings.Builder{})
	err := cmd.Execute()
	return got, err
}

func TestServeEdgeFlags(t *testing.T) {
	t.Parallel()
	t.Run("defaults: derived URLs, automatic cap, 15 s drain, no proxies", func(t *testing.T) {
		t.Parallel()
		o, err := parseServe(t, nil)
		if err != nil || o.PublicURL != "" || o.Issuer != "" || o.MaxConns != 0 || o.ShutdownTimeout != 15*time.Second ||
			len(o.trusted) != 0 || o.AllowNonURLIssuer {
			t.Errorf("%+v %v", o, err)
		}
	})
	t.Run("every edge flag is read, --trusted-proxy repeated and comma-separated", func(t *testing.T) {
		t.Parallel()
		o, err := parseServe(t, nil, "--public-url", "https://auth.example.com", "--trusted-proxy", "10.0.0.0/8",
			"--trusted-proxy", "192.0.2.1, 2001:db8::/32", "--max-conns", "100", "--shutdown-timeout", "3s")
		if err != nil || o.PublicURL != "https://auth.example.com" || o.MaxConns != 100 || o.ShutdownTimeout != 3*time.Second ||
			len(o.trusted) != 3 || o.trusted[1].String() != "192.0.2.1/32" || o.trusted[2].String() != "2001:db8::/32" {
			t.Errorf("%+v %v", o, err)
		}
	})
	t.Run("AUTHCTL_TRUSTED_PROXY is a comma-separated list", func(t *testing.T) {
		t.Parallel()
		o, err := parseServe(t, map[string]string{"AUTHCTL_TRUSTED_PROXY": "10.0.0.0/8,fd00::/8"})
		if err != nil || len(o.trusted) != 2 {
			t.Errorf("%+v %v", o, err)
		}
	})
	t.Run("a plain-name issuer is kept with --allow-non-url-issuer", func(t *testing.T) {
		t.Parallel()
		o, err := parseServe(t, nil, "--issuer", "authctl", "--allow-non-url-issuer")
		if err != nil || o.Issuer != "authctl" {
			t.Errorf("%+v %v", o, err)
		}
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a plain-name issuer is refused, pointing at the escape hatch", []string{"--issuer", "authctl"}, "--allow-non-url-issuer"},
		{"an issuer URL with a query is refused", []string{"--issuer", "https://id.example?x=1"}, "query"},
		{"an issuer URL of another scheme is refused", []string{"--issuer", "ftp://id.example"}, "http"},
		{"an issuer that only looks like a URL is refused even when plain names are allowed", []string{"--issuer", "https:/id", "--allow-non-url-issuer"}, "--issuer"},
		{"a public URL without a host is refused", []string{"--public-url", "https://"}, "host"},
		{"a public URL with a fragment is refused", []string{"--public-url", "https://a.example/#x"}, "fragment"},
		{"a relative public URL is refused", []string{"--public-url", "auth.example.com"}, "--public-url"},
		{"a trusted proxy that is not an address is refused", []string{"--trusted-proxy", "proxy.internal"}, "--trusted-proxy"},
		{"a negative --max-conns is refused", []string{"--max-conns", "-1"}, "--max-conns"},
		{"a zero --shutdown-timeout is refused", []string{"--shutdown-timeout", "0s"}, "--shutdown-timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseServe(t, nil, c.args...)
			if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v (exit %d); want a usage error naming %s", err, ExitCode(err), c.want)
			}
		})
	}
}

func TestPublicURLAndIssuerDefaults(t *testing.T) {
	t.Parallel()
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, c := range []struct {
		name               string
		opts               ServeOptions
		listen             string
		public, iss        string
		explicit, wildcard bool
	}{
		{"the default --addr", ServeOptions{}, "127.0.0.1:5000", "http://127.0.0.1:5000", "http://127.0.0.1:5000", false, false},
		{"TLS on the default port leaves the port out", ServeOptions{TLSCert: "c"}, "127.0.0.1:443", "https://127.0.0.1", "https://127.0.0.1", false, false},
		{"TLS elsewhere keeps it", ServeOptions{TLSCert: "c"}, "127.0.0.1:8443", "https://127.0.0.1:8443", "https://127.0.0.1:8443", false, false},
		{"IPv6 in brackets", ServeOptions{}, "[::1]:5000", "http://[::1]:5000", "http://[::1]:5000", false, false},
		{"a wildcard address becomes loopback, with a warning", ServeOptions{}, "0.0.0.0:5000", "http://127.0.0.1:5000", "http://127.0.0.1:5000", false, true},
		{"the IPv6 wildcard too", ServeOptions{}, "[::]:5000", "http://127.0.0.1:5000", "http://127.0.0.1:5000", false, true},
		{"--public-url wins and is the issuer", ServeOptions{PublicURL: "https://auth.example.com/"}, "0.0.0.0:5000",
			"https://auth.example.com", "https://auth.example.com", true, false},
		{"an issuer URL is the base when --public-url is not given", ServeOptions{Issuer: "https://id.example/"}, "127.0.0.1:5000",
			"https://id.example", "https://id.example/", false, false},
		{"a plain-name issuer keeps the derived public URL", ServeOptions{Issuer: "authctl"}, "127.0.0.1:5000",
			"http://127.0.0.1:5000", "authctl", false, false},
		{"both given: both kept as given", ServeOptions{Issuer: "https://id.example", PublicURL: "https://api.example"}, "127.0.0.1:5000",
			"https://api.example", "https://id.example", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := c.opts.resolveURLs(tcp(c.listen))
			if r.PublicURL != c.public || r.Issuer != c.iss || r.Explicit != c.explicit || r.Wildcard != c.wildcard {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestAutoMaxConns(t *testing.T) {
	t.Parallel()
	for nofile, want := range map[uint64]int{0: 4096, 1024: 768, 20000: 4096, 1 << 20: 4096, 300: 150, 10: 16} {
		if got := autoMaxConns(nofile); got != want {
			t.Errorf("nofile %d: %d, want %d", nofile, got, want)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:5000": true, ":0": true, "[::1]:65535": true, "localhost:http": true,
		":99999": false, "127.0.0.1": false, "127.0.0.1:-1": false, "127.0.0.1:5000x": false, "": false,
	} {
		err := checkListenAddr("--addr", addr)
		if (err == nil) != ok {
			t.Errorf("%q: %v", addr, err)
		}
		if err != nil && ExitCode(err) != ExitUsage {
			t.Errorf("%q: exit %d, want a usage error", addr, ExitCode(err))
		}
	}
}

func TestListenErrorIsOneCleanLine(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = listen(busy.Addr().String())
	if want := "listen on " + busy.Addr().String() + ": address already in use"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
