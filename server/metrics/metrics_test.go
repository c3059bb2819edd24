package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/metrics"
	"github.com/authctl/authctl/server/postgres"
	"github.com/authctl/authctl/server/sqlite"
)

// scrape reads m's handler over real HTTP, as Prometheus would, into "name{k=v,…}" → value;
// a histogram appears as its _count and _sum.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, s := range f.GetMetric() {
			key := name + labels(s.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = s.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels(s.GetLabel())] = float64(s.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels(s.GetLabel())] = s.GetHistogram().GetSampleSum()
			default:
				out[key] = s.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func labels(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.GetName() + "=" + l.GetValue()
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStoreCallsAreTimedAndOnlyFailuresCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := metrics.New("test")
	raw := openSQLite(t)
	st := m.Store(raw)
	now := time.Now()
	if _, err := st.CreateUser(ctx, "alice", "user", "hash", now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, "alice", "user", "hash", now); !errors.Is(err, server.ErrUserExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, err := st.UserByName(ctx, "nobody"); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	raw.Close() // from here on the store fails for real
	if _, err := st.CountUsers(ctx); err == nil {
		t.Fatal("a closed store answered")
	}

	got := scrape(t, m)
	for key, want := range map[string]float64{
		`authctl_store_call_duration_seconds_count{op=CreateUser}`: 2,
		`authctl_store_call_duration_seconds_count{op=UserByName}`: 1,
		`authctl_store_call_duration_seconds_count{op=CountUsers}`: 1,
		`authctl_store_errors_total{op=CountUsers}`:                1,
		`authctl_store_errors_total{op=CreateUser}`:                0, // "name taken" is an answer
		`authctl_store_errors_total{op=UserByName}`:                0, // so is "not found"
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

// watcher is an SQLite store that also pushes revocations, as the PostgreSQL store does.
type watcher struct{ *sqlite.Store }

func (watcher) WatchRevocations(ctx context.Context, _ func(string)) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestStoreKeepsTheRevocationWatcher(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	if _, ok := m.Store(watcher{openSQLite(t)}).(server.RevocationWatcher); !ok {
		t.Error("a watching store lost WatchRevocations when wrapped: replicas would fall back to polling")
	}
	if _, ok := m.Store(openSQLite(t)).(server.RevocationWatcher); ok {
		t.Error("a store without WatchRevocations gained one when wrapped")
	}
}

// TestPostgresStoreKeepsItsWatcher is the same on the real PostgreSQL store, which pushes
// revocations to the other replicas with LISTEN/NOTIFY.
func TestPostgresStoreKeepsItsWatcher(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("AUTHCTL_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("AUTHCTL_TEST_POSTGRES_REQUIRED") == "1" {
			t.Fatal("AUTHCTL_TEST_POSTGRES is not set")
		}
		t.Skip("set AUTHCTL_TEST_POSTGRES to a database URL")
	}
	pg, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	st := metrics.New("test").Store(pg)
	if _, ok := st.(server.RevocationWatcher); !ok {
		t.Fatal("the PostgreSQL store lost WatchRevocations when wrapped")
	}
	if _, err := st.CountUsers(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := server.Store(pg).(server.LiveSessionCounter); !ok {
		t.Error("the PostgreSQL store cannot count live sessions")
	}
	if _, err := pg.CountLiveSessions(context.Background(), time.Now()); err != nil {
		t.Error(err)
	}
}

// TestServiceOutcomesAreCounted drives a real Service on SQLite through every outcome once
// and checks that each counter moved by exactly its events.
func TestServiceOutcomesAreCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := metrics.New("test")
	clk := testkit.NewClock(time.Now())
	cfg := server.DefaultConfig()
	cfg.Argon2 = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	cfg.Limits = server.LimitConfig{UserBurst: 1, AddrBurst: 1 << 20, PerUser: 1e-6, PerAddr: 1e6, MaxKeys: 100}
	cfg.Now = clk.Now
	st := m.Store(openSQLite(t))
	svc, err := server.NewService(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.SetObserver(m)
	for _, u := range []string{"alice", "bob"} {
		if _, err := server.AddUser(ctx, st, svc.Hasher(), u, "user", u+"-password", clk.Now()); err != nil {
			t.Fatal(err)
		}
	}

	a, err := svc.Login(ctx, "alice", "alice-password", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "bob", "wrong", "192.0.2.1"); !errors.Is(err, server.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	var rl *server.RateLimitError
	if _, err := svc.Login(ctx, "bob", "wrong", "192.0.2.1"); !errors.As(err, &rl) {
		t.Fatalf("second wrong password within the burst of 1: %v", err)
	}
	a2, err := svc.Refresh(ctx, a.RefreshToken) // rotated
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Refresh(ctx, a.RefreshToken); err != nil { // replayed within the grace
		t.Fatal(err)
	}
	if _, err := svc.Refresh(ctx, "not a refresh token"); !errors.Is(err, server.ErrInvalidGrant) {
		t.Fatalf("malformed: %v", err)
	}
	for range 3 {
		if _, err := svc.Authenticate(ctx, a2.AccessToken); err != nil { // one miss, then hits
			t.Fatal(err)
		}
	}
	clk.Advance(cfg.ReuseGrace + time.Second)
	if _, err := svc.Refresh(ctx, a.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) { // reuse
		t.Fatalf("reuse: %v", err)
	}
	if _, err := svc.Refresh(ctx, a2.RefreshToken); !errors.Is(err, server.ErrInvalidGrant) { // family revoked
		t.Fatalf("after reuse: %v", err)
	}
	c, err := svc.Login(ctx, "alice", "alice-password", "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, c.RefreshToken); err != nil {
		t.Fatal(err)
	}

	got := scrape(t, m)
	for key, want := range map[string]float64{
		`authctl_logins_total{outcome=ok}`:                     2,
		`authctl_logins_total{outcome=bad_credentials}`:        1,
		`authctl_logins_total{outcome=limited}`:                1,
		`authctl_logins_total{outcome=error}`:                  0,
		`authctl_refreshes_total{outcome=rotated}`:             1,
		`authctl_refreshes_total{outcome=replayed}`:            1,
		`authctl_refreshes_total{outcome=reuse_detected}`:      1,
		`authctl_refreshes_total{outcome=invalid}`:             2, // malformed, and the revoked family's token
		`authctl_refreshes_total{outcome=error}`:               0,
		`authctl_revocations_total{reason=reuse}`:              1,
		`authctl_revocations_total{reason=logout}`:             1,
		`authctl_token_cache_lookups_total{result=miss}`:       1,
		`authctl_token_cache_lookups_total{result=hit}`:        2,
		`authctl_store_call_duration_seconds_count{op=Rotate}`: 4,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

func TestLiveSessionsAreSampled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := metrics.New("test")
	st := openSQLite(t)
	now := time.Now()
	u, err := st.CreateUser(ctx, "alice", "user", "hash", now)
	if err != nil {
		t.Fatal(err)
	}
	for i, life := range []time.Duration{time.Hour, time.Hour, time.Hour, -time.Minute} {
		id := fmt.Sprint("s", i)
		s := server.Session{ID: id, UserID: u.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(life)}
		if err := st.CreateSession(ctx, s, server.RefreshToken{Hash: []byte(id), SessionID: id, IssuedAt: s.CreatedAt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeSession(ctx, "s0", server.RevokeLogout, now); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { m.SampleLiveSessions(ctx, st, 10*time.Millisecond, time.Now); close(done) }()

	deadline := time.Now().Add(5 * time.Second)
	for scrape(t, m)["authctl_live_sessions"] != 2 { // s1 and s2: s0 is revoked, s3 expired
		if time.Now().After(deadline) {
			t.Fatalf("authctl_live_sessions = %v, want 2", scrape(t, m)["authctl_live_sessions"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done // the sampler stops with its context
}

func TestHandlerServesRuntimeAndBuildInfo(t *testing.T) {
	t.Parallel()
	got := scrape(t, metrics.New("v1.2.3"))
	for _, key := range []string{"go_goroutines", "process_resident_memory_bytes", "authctl_build_info{version=v1.2.3}"} {
		if _, ok := got[key]; !ok {
			t.Errorf("no %s in the scrape", key)
		}
	}
}

// TestEveryStoreMethodIsTimed calls each method of server.Store through the wrapper (with
// zero arguments: failing is fine) and checks that each was timed under its own name, so a
// method added to the interface cannot pass through the embedded Store untimed unnoticed.
func TestEveryStoreMethodIsTimed(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	st := reflect.ValueOf(m.Store(openSQLite(t)))
	iface := reflect.TypeOf((*server.Store)(nil)).Elem()
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	var names []string
	for i := range iface.NumMethod() {
		method := iface.Method(i)
		if method.Name == "Close" {
			continue
		}
		names = append(names, method.Name)
		args := make([]reflect.Value, method.Type.NumIn())
		for j := range args {
			in := method.Type.In(j)
			switch {
			case in == ctxType:
				args[j] = reflect.ValueOf(context.Background())
			case in.Kind() == reflect.Func: // Secret's generate
				args[j] = reflect.MakeFunc(in, func([]reflect.Value) []reflect.Value {
					out := make([]reflect.Value, in.NumOut())
					for k := range out {
						out[k] = reflect.Zero(in.Out(k))
					}
					return out
				})
			default:
				args[j] = reflect.Zero(in)
			}
		}
		st.MethodByName(method.Name).Call(args)
	}
	got := scrape(t, m)
	for _, name := range names {
		if got[`authctl_store_call_duration_seconds_count{op=`+name+`}`] != 1 {
			t.Errorf("server.Store.%s is not timed: add it to server/metrics/store.go", name)
		}
	}
}
