package main

// What an operator sees of a running server: the Prometheus metrics on --metrics-addr and
// the log lines (README "Metrics", "Logs"), checked against the real binary.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// counters scrapes a /metrics URL into "name{k=v,…}" → value for the counters of the given
// families (histograms as their _count).
func counters(t *testing.T, url string, families ...string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	all, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, name := range families {
		// A family with labels has no series until its first event: then it is absent.
		f := all[name]
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

var metricsAddrAttr = regexp.MustCompile(`metrics_addr=(127\.0\.0\.1:\d+)`)

// TestMetricsCountExactlyWhatHappened scrapes /metrics before and after a login, a refresh,
// a refresh-token reuse, a second login and its logout, and checks that the counters moved
// by exactly those events: nothing missing, nothing extra.
func TestMetricsCountExactlyWhatHappened(t *testing.T) {
	t.Parallel()
	// --reuse-grace 0s: the rotated-out token is a reuse at once, without waiting.
	s := startServe(t, tempDB(t), "--metrics-addr", "127.0.0.1:0", "--reuse-grace", "0s")
	m := metricsAddrAttr.FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("the start-up line names no metrics address:\n%s", s.logs())
	}
	metricsURL := "http://" + m[1] + "/metrics"
	families := []string{"authctl_logins_total", "authctl_refreshes_total", "authctl_revocations_total",
		"authctl_http_requests_total", "authctl_http_request_duration_seconds"}
	before := counters(t, metricsURL, families...)

	t0 := login(t, s.URL, "admin", adminPassword)
	if _, a := refresh(t, s.URL, t0.Refresh); a.Status != 200 {
		t.Fatalf("refresh: %d %s", a.Status, a.Body)
	}
	if _, a := refresh(t, s.URL, t0.Refresh); a.Status != 400 {
		t.Fatalf("reuse: %d %s", a.Status, a.Body)
	}
	t1 := login(t, s.URL, "admin", adminPassword)
	if a := call(t, "POST", s.URL+"/api/auth/logout", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, t1.Refresh)); a.Status != 204 {
		t.Fatalf("logout: %d %s", a.Status, a.Body)
	}

	after := counters(t, metricsURL, families...)
	want := map[string]float64{
		"authctl_logins_total{outcome=ok}":                2,
		"authctl_refreshes_total{outcome=rotated}":        1,
		"authctl_refreshes_total{outcome=reuse_detected}": 1,
		"authctl_revocations_total{reason=reuse}":         1,
		"authctl_revocations_total{reason=logout}":        1,
	}
	for route, n := range map[string]float64{
		"code=200,route=POST /api/auth/login":   2,
		"code=200,route=POST /api/auth/refresh": 1,
		"code=400,route=POST /api/auth/refresh": 1,
		"code=204,route=POST /api/auth/logout":  1,
	} {
		want["authctl_http_requests_total{"+route+"}"] = n
		want["authctl_http_request_duration_seconds{"+route+"}"] = n
	}
	keys := map[string]bool{}
	for k := range after {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		if d := after[k] - before[k]; d != want[k] {
			t.Errorf("%s moved by %v, want %v", k, d, want[k])
		}
	}

	// The listener is separate: metrics are not on the API port, and nothing else is on the
	// metrics port.
	if a := call(t, "GET", s.URL+"/metrics", "", ""); a.Status != 404 {
		t.Errorf("GET /metrics on the API port: %d", a.Status)
	}
	if a := call(t, "GET", "http://"+m[1]+"/api/weather", "", ""); a.Status != 404 {
		t.Errorf("the API on the metrics port: %d", a.Status)
	}
	runtime := counters(t, metricsURL, "go_goroutines", "process_open_fds", "authctl_live_sessions")
	if runtime["go_goroutines{}"] <= 0 || runtime["process_open_fds{}"] <= 0 {
		t.Errorf("runtime collectors: %v", runtime)
	}
}

func TestMetricsAreOffByDefault(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t))
	if strings.Contains(s.logs(), "metrics_addr") {
		t.Errorf("a metrics listener without --metrics-addr:\n%s", s.logs())
	}
}

// TestJSONLogs runs a real serve with --log-format json (and -v, so probes are logged too)
// through login, weather, refresh, a failed login and logout, stops it, and checks every
// line it wrote: each parses as JSON, none holds a token or a password, and the lines an
// operator relies on say what README "Logs" promises.
func TestJSONLogs(t *testing.T) {
	t.Parallel()
	s := startServe(t, tempDB(t), "--log-format", "json", "-v")
	const wrongPassword = "not-the-admin-password-0123"
	tok := login(t, s.URL, "admin", adminPassword)
	a := call(t, "GET", s.URL+"/api/weather", "", "", "Authorization", "Bearer "+tok.Access, "X-Request-Id", "trace-0001")
	if a.Status != 200 || a.Header.Get("X-Request-Id") != "trace-0001" {
		t.Fatalf("weather: %d, X-Request-Id %q", a.Status, a.Header.Get("X-Request-Id"))
	}
	me := call(t, "GET", s.URL+"/api/auth/me", "", "", "Authorization", "Bearer "+tok.Access).json(t)
	tok2, _ := refresh(t, s.URL, tok.Refresh)
	if a := call(t, "POST", s.URL+"/api/auth/login", "application/json", fmt.Sprintf(`{"username":"admin","password":%q}`, wrongPassword)); a.Status != 401 {
		t.Fatalf("wrong password: %d", a.Status)
	}
	call(t, "POST", s.URL+"/api/auth/logout", "application/json", fmt.Sprintf(`{"refresh_token":%q}`, tok2.Refresh))
	call(t, "GET", s.URL+"/healthz", "", "")
	s.stop(syscall.SIGINT)

	secrets := map[string]string{"access token": tok.Access, "refresh token": tok.Refresh, "rotated access token": tok2.Access,
		"rotated refresh token": tok2.Refresh, "admin password": adminPassword, "wrong password": wrongPassword}
	var lines []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(s.logs()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Errorf("not a JSON line: %s", raw)
			continue
		}
		for what, secret := range secrets {
			if strings.Contains(raw, secret) {
				t.Errorf("the %s is in the log: %s", what, raw)
			}
		}
		lines = append(lines, l)
	}
	find := func(what string, match func(map[string]any) bool) map[string]any {
		t.Helper()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		t.Errorf("no %s line in:\n%s", what, s.logs())
		return map[string]any{}
	}
	request := func(path string) func(map[string]any) bool {
		return func(l map[string]any) bool { return l["msg"] == "request" && l["path"] == path }
	}

	start := find("start-up", func(l map[string]any) bool {
		return strings.HasPrefix(fmt.Sprint(l["msg"]), "listening on http://127.0.0.1:")
	})
	for _, k := range []string{"version", "store", "db", "alg", "kid", "issuer", "addr"} {
		if v, _ := start[k].(string); v == "" {
			t.Errorf("start-up line without %s: %v", k, start)
		}
	}
	if start["store"] != "sqlite" || start["alg"] != "EdDSA" || start["version"] != "test" {
		t.Errorf("start-up line: %v", start)
	}
	w := find("weather request", request("/api/weather"))
	if w["level"] != "INFO" || w["user"] != "admin" || w["sid"] != me["sid"] || w["request_id"] != "trace-0001" || w["status"] != float64(200) {
		t.Errorf("weather request line: %v", w)
	}
	if d, ok := w["duration_ms"].(float64); !ok || d <= 0 || d > 10_000 {
		t.Errorf("duration_ms %v (%T): want milliseconds as a number", w["duration_ms"], w["duration_ms"])
	}
	if _, ok := w["duration"]; ok {
		t.Errorf("a duration in nanoseconds too: %v", w)
	}
	l := find("login request", request("/api/auth/login"))
	if _, ok := l["user"]; ok {
		t.Errorf("user on the line of an unauthenticated route: %v", l)
	}
	if id, _ := l["request_id"].(string); len(id) != 16 {
		t.Errorf("generated request id %q", id)
	}
	if h := find("probe request", request("/healthz")); h["level"] != "DEBUG" {
		t.Errorf("probe line: %v", h)
	}
	if f := find("failed login", func(l map[string]any) bool { return l["event"] == "login_failed" }); f["level"] != "WARN" {
		t.Errorf("failed login: %v", f)
	}
}

// serveOnce runs `authctl serve` with env added to the test's own, interrupts it as soon as
// it listens, and returns what it wrote on stderr and its exit code.
func serveOnce(t *testing.T, env []string, args ...string) (stderr string, code int) {
	t.Helper()
	bin, err := exec.LookPath("authctl")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "listening on http") {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return b.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return b.String(), 0
}

// TestGeneratedAdminPasswordGoesToAFile: with no terminal on stderr, the generated admin
// password is written to a 0600 file named in the log, and appears in no log line.
func TestGeneratedAdminPasswordGoesToAFile(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			db := tempDB(t)
			logs, code := serveOnce(t, []string{"AUTHCTL_ADMIN_PASSWORD="}, "--db", db, "--addr", "127.0.0.1:0", "--log-format", format)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, logs)
			}
			file := db + ".admin-password"
			if !strings.Contains(logs, file) || !strings.Contains(logs, "admin_created") {
				t.Fatalf("the log does not name %s:\n%s", file, logs)
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v", file, fi.Mode().Perm())
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			password := strings.TrimSpace(string(b))
			if len(password) != 24 || strings.Contains(logs, password) {
				t.Fatalf("password %q (in the log: %v):\n%s", password, strings.Contains(logs, password), logs)
			}
			// The file's password is the admin's: the server accepts it.
			s := startServe(t, db)
			login(t, s.URL, "admin", password)
		})
	}
}

// TestListenErrors: a listen address that cannot work fails before anything is created,
// with one clean line.
func TestListenErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // not defer: the parallel subtests run after this function returns
	for _, c := range []struct {
		name string
		args []string
		code int
		line string
	}{
		{"a port in use", []string{"--addr", busy.Addr().String()}, 1,
			"authctl: listen on " + busy.Addr().String() + ": address already in use"},
		{"a metrics port in use", []string{"--addr", "127.0.0.1:0", "--metrics-addr", busy.Addr().String()}, 1,
			"authctl: listen on " + busy.Addr().String() + ": address already in use"},
		{"a port out of range", []string{"--addr", ":99999"}, 2,
			`authctl: --addr ":99999": port must be a number from 0 to 65535`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "authctl.db")
			logs, code := serveOnce(t, []string{"AUTHCTL_ADMIN_PASSWORD="}, append([]string{"--db", db}, c.args...)...)
			if code != c.code || strings.TrimSpace(logs) != c.line {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and only:\n%s", code, logs, c.code, c.line)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the database was created before the listen failed (%v)", err)
			}
			if _, err := os.Stat(db + ".admin-password"); !os.IsNotExist(err) {
				t.Errorf("an admin password was generated before the listen failed (%v)", err)
			}
		})
	}
}
