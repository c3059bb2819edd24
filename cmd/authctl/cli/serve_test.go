package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServeFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*ServeOptions) bool
	}{
		{"defaults follow the spec", nil, nil, func(o *ServeOptions) bool {
			return o.Addr == "127.0.0.1:5000" && o.DB == "" && o.Issuer == "" && o.Audience == "authctl" &&
				o.AccessTTL == 5*time.Minute && o.RefreshTTL == 720*time.Hour && o.ReuseGrace == 10*time.Second &&
				o.SigningAlg == "EdDSA" && o.SigningKey == "" && len(o.CORSOrigins) == 0 && o.LogFormat == "text"
		}},
		{"the environment fills addr, db and signing key", map[string]string{"AUTHCTL_ADDR": "127.0.0.1:7000", "AUTHCTL_DB": "/tmp/x.db", "AUTHCTL_SIGNING_KEY": "/k.pem"}, nil,
			func(o *ServeOptions) bool {
				return o.Addr == "127.0.0.1:7000" && o.DB == "/tmp/x.db" && o.SigningKey == "/k.pem"
			}},
		{"flags win over the environment", map[string]string{"AUTHCTL_ADDR": "127.0.0.1:7000", "AUTHCTL_DB": "/tmp/x.db"}, []string{"--addr", "0.0.0.0:8000", "--db", "postgres://h/db"},
			func(o *ServeOptions) bool { return o.Addr == "0.0.0.0:8000" && o.DB == "postgres://h/db" }},
		{"every flag is read", nil, []string{"--issuer", "https://id", "--audience", "api", "--access-ttl", "1m", "--refresh-ttl", "24h",
			"--reuse-grace", "0s", "--signing-alg", "ES256", "--tls-cert", "c", "--tls-key", "k", "--log-format", "json"},
			func(o *ServeOptions) bool {
				return o.Issuer == "https://id" && o.Audience == "api" && o.AccessTTL == time.Minute && o.RefreshTTL == 24*time.Hour &&
					o.ReuseGrace == 0 && o.SigningAlg == "ES256" && o.TLSCert == "c" && o.TLSKey == "k" && o.LogFormat == "json"
			}},
		{"--cors-origin repeats", nil, []string{"--cors-origin", "http://localhost:4200", "--cors-origin", "https://app"},
			func(o *ServeOptions) bool {
				return len(o.CORSOrigins) == 2 && o.CORSOrigins[0] == "http://localhost:4200" && o.CORSOrigins[1] == "https://app"
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := Test()
			f := NewFactory(BuildInfo{}, ios, func(k string) string { return c.env[k] })
			var got *ServeOptions
			cmd := NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
			cmd.SetArgs(c.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got == nil || !c.check(got) {
				t.Errorf("%+v", got)
			}
		})
	}
}

var listeningLine = regexp.MustCompile(`msg"?[:=]"listening on (http://127\.0\.0\.1:\d+)"`)

func TestRunServeInProcess(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "authctl.db")
	env := map[string]string{"AUTHCTL_ADMIN_PASSWORD": "admin-password"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunServe(ctx, []string{"--addr", "127.0.0.1:0", "--db", db, "--log-format", "json"},
			func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()

	lines := bufio.NewScanner(pr)
	var base string
	for lines.Scan() {
		if m := listeningLine.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("no listening line; serve ended with %v", <-done)
	}
	go io.Copy(io.Discard, pr) // keep the logger from blocking

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("graceful shutdown returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	// The store was closed cleanly and kept the admin the first start created.
	r := runCLI(t, nil, "user", "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "admin") {
		t.Errorf("%+v", r)
	}
}

func TestServeFailsWhenThePortIsTaken(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "authctl.db")
	env := func(k string) string {
		if k == "AUTHCTL_ADMIN_PASSWORD" {
			return "admin-password"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		RunServe(ctx, []string{"--addr", "127.0.0.1:0", "--db", db}, env, nil, io.Discard, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
			addr = strings.TrimPrefix(m[1], "http://")
			break
		}
	}
	go io.Copy(io.Discard, pr)
	var stderr strings.Builder
	err := RunServe(t.Context(), []string{"--addr", addr, "--db", filepath.Join(t.TempDir(), "b.db")}, env, nil, io.Discard, &stderr)
	if ExitCode(err) != ExitFailed || !strings.Contains(err.Error(), "listen on "+addr) {
		t.Errorf("err %v (exit %d)", err, ExitCode(err))
	}
}

func TestDefaultDB(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, goos string
		env        map[string]string
		want       string
	}{
		{"XDG_DATA_HOME wins", "linux", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/authctl/authctl.db"},
		{"a relative XDG_DATA_HOME is ignored, as the spec says", "linux", map[string]string{"XDG_DATA_HOME": "rel", "HOME": "/home/u"}, "/home/u/.local/share/authctl/authctl.db"},
		{"linux falls back to ~/.local/share", "linux", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/authctl/authctl.db"},
		{"macOS uses Application Support", "darwin", map[string]string{"HOME": "/Users/u"}, "/Users/u/Library/Application Support/authctl/authctl.db"},
		{"windows uses LocalAppData", "windows", map[string]string{"LocalAppData": "/c/AppData/Local", "HOME": "/c"}, "/c/AppData/Local/authctl/authctl.db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := defaultDB(func(k string) string { return c.env[k] }, c.goos)
			if err != nil || got != filepath.FromSlash(c.want) {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestOpenStoreRoutesPostgresURLs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		db   string
		isPG bool
	}{
		{"postgres://u@127.0.0.1/db", true},
		{"postgresql://u@127.0.0.1/db", true},
		{"/var/lib/authctl.db", false},
		{"postgres.db", false},
	} {
		if got := isPostgresURL(c.db); got != c.isPG {
			t.Errorf("isPostgresURL(%q) = %v", c.db, got)
		}
	}
	st, err := openStore(t.Context(), func(string) string { return "" }, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
