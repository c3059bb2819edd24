package keystore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNormalizeServer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"a plain URL is kept", "http://localhost:5000", "http://localhost:5000"},
		{"scheme and host are lower-cased", "HTTP://LocalHost:5000", "http://localhost:5000"},
		{"a trailing slash is dropped", "http://localhost:5000/", "http://localhost:5000"},
		{"the https default port is dropped", "https://auth.example.com:443", "https://auth.example.com"},
		{"the http default port is dropped", "http://h:80/api/", "http://h/api"},
		{"a non-default port is kept", "https://h:80", "https://h:80"},
		{"a path keeps its case", "http://h/API/v1//", "http://h/API/v1"},
		{"an IPv6 literal keeps its brackets", "http://[::1]:5000", "http://[::1]:5000"},
		{"an IPv6 literal loses its default port", "https://[::1]:443/x", "https://[::1]/x"},
		{"surrounding space is ignored", "  http://h  ", "http://h"},
		{"an empty port is dropped", "http://h:/", "http://h"},
		{"an escaped path stays escaped", "http://h/a%20b/", "http://h/a%20b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got, err := NormalizeServer(c.in); err != nil || got != c.want {
				t.Errorf("NormalizeServer(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
	for _, c := range []struct{ name, in string }{
		{"another scheme", "ftp://h"},
		{"no scheme", "localhost:5000"},
		{"no host", "http://"},
		{"a port but no host", "https://:"},
		{"a port but no host name", "http://:5000"},
		{"user info", "http://u:p@h"},
		{"a query", "http://h?x=1"},
		{"an empty query", "http://h?"},
		{"a fragment", "http://h#f"},
		{"an empty string", ""},
		{"an opaque URL", "http:h"},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			t.Parallel()
			if got, err := NormalizeServer(c.in); err == nil {
				t.Errorf("NormalizeServer(%q) = %q", c.in, got)
			}
		})
	}
}

// FuzzNormalizeServer: --server and AUTHCTL_SERVER are user input, and the result names a
// keyring entry, so one server must have exactly one spelling.
func FuzzNormalizeServer(f *testing.F) {
	for _, s := range []string{"http://localhost:5000/", "HTTPS://[fe80::1%25en0]:443/a", "http://h:80/%2F/", "http://ä.example/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		once, err := NormalizeServer(raw)
		if err != nil {
			return
		}
		twice, err := NormalizeServer(once)
		if err != nil || twice != once {
			t.Fatalf("%q → %q → %q, %v", raw, once, twice, err)
		}
		if strings.ContainsAny(once, "?#@") || strings.HasSuffix(once, "/") {
			t.Fatalf("%q → %q", raw, once)
		}
	})
}

func TestLastServer(t *testing.T) {
	t.Parallel()
	t.Run("none is remembered at first, then the last one set", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "authctl")
		if s, err := LastServer(dir); s != "" || err != nil {
			t.Fatalf("empty: %q %v", s, err)
		}
		for _, srv := range []string{"http://a:1", "https://b"} {
			if err := SetLastServer(dir, srv); err != nil {
				t.Fatal(err)
			}
		}
		if s, err := LastServer(dir); s != "https://b" || err != nil {
			t.Errorf("got %q %v", s, err)
		}
		if perm(t, dir) != 0o700 {
			t.Errorf("dir mode %v", perm(t, dir))
		}
	})
	t.Run("a corrupt config is an error naming it", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte("nope"), 0o600)
		if _, err := LastServer(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("got %v", err)
		}
	})
}
