// Package bench measures authctl's server against baselines in the same run: protected
// weather throughput against a bare net/http handler serving the same bytes, refresh
// rotations per second with 16 concurrent chains, and login latency against the bare argon2id
// hash; the weather and SQLite refresh figures also with the Prometheus metrics of
// --metrics-addr wired in (the -metrics variants), to show what they cost. Run it with
// bench/run.sh; figures are in bench/README.md.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/httpapi"
	"github.com/authctl/authctl/server/metrics"
	"github.com/authctl/authctl/server/postgres"
	"github.com/authctl/authctl/server/sqlite"
)

const password = "bench password"

// cheap keeps logins in throughput benchmarks from dominating set-up; the login latency
// benchmark uses the production parameters.
var cheap = server.Argon2Params{Memory: 64, Time: 1, Threads: 1}

type instance struct {
	url string
	svc *server.Service
}

// start runs the real handler stack (httpapi over Service over store) on loopback.
func start(b *testing.B, st server.Store, argon server.Argon2Params) instance {
	b.Helper()
	return startWith(b, st, argon, false)
}

// startWith is start, with the Prometheus metrics of --metrics-addr wired in when metricsOn:
// the store timed, the Service's outcomes and every request counted, live sessions sampled.
func startWith(b *testing.B, st server.Store, argon server.Argon2Params, metricsOn bool) instance {
	b.Helper()
	var m *metrics.Metrics
	var requests httpapi.RequestObserver
	if metricsOn {
		m = metrics.New("bench")
		requests = m
		if c, ok := st.(server.LiveSessionCounter); ok {
			sampleCtx, stop := context.WithCancel(context.Background())
			b.Cleanup(stop)
			go m.SampleLiveSessions(sampleCtx, c, 15*time.Second, time.Now)
		}
		st = m.Store(st)
	}
	ctx := context.Background()
	cfg := server.DefaultConfig()
	cfg.Argon2 = argon
	cfg.Limits = server.LimitConfig{PerUser: 1e6, UserBurst: 1e6, PerAddr: 1e6, AddrBurst: 1e6, MaxKeys: 10_000}
	log := slog.New(slog.DiscardHandler)
	svc, err := server.NewService(ctx, cfg, st, log)
	if err != nil {
		b.Fatal(err)
	}
	if m != nil {
		svc.SetObserver(m)
	}
	runCtx, cancel := context.WithCancel(ctx)
	go svc.Run(runCtx)
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Config{Requests: requests}, log))
	b.Cleanup(func() { srv.Close(); cancel() })
	return instance{url: srv.URL, svc: svc}
}

func openSQLite(b *testing.B) server.Store {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "authctl.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func addUser(b *testing.B, st server.Store, name string) {
	b.Helper()
	h := server.NewPasswordHasher(cheap, 0)
	if _, err := server.AddUser(context.Background(), st, h, name, "user", password, time.Now()); err != nil {
		b.Fatal(err)
	}
}

func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func post(c *http.Client, url string, body any) (tokenResponse, error) {
	data, _ := json.Marshal(body)
	resp, err := c.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		return tokenResponse{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return tokenResponse{}, fmt.Errorf("%s: %d %s", url, resp.StatusCode, msg)
	}
	var t tokenResponse
	return t, json.NewDecoder(resp.Body).Decode(&t)
}

func login(c *http.Client, base, user string) (tokenResponse, error) {
	return post(c, base+"/api/auth/login", map[string]string{"username": user, "password": password})
}

// BenchmarkWeather compares GET /api/weather with a reused bearer token against a bare
// net/http handler writing the same response bytes.
func BenchmarkWeather(b *testing.B) {
	st := openSQLite(b)
	addUser(b, st, "alice")
	inst := start(b, st, cheap)
	c := httpClient()
	tok, err := login(c, inst.url, "alice")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", inst.url+"/api/weather", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	sample, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("weather: %d %s", resp.StatusCode, sample)
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(sample)
	}))
	defer bare.Close()

	run := func(b *testing.B, url, token string) {
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequest("GET", url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for pb.Next() {
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	// The same server with the metrics of --metrics-addr: a second instance on the same store,
	// measured in the same run so that the two figures compare.
	withMetrics := startWith(b, st, cheap, true)
	tokM, err := login(c, withMetrics.url, "alice")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare", func(b *testing.B) { run(b, bare.URL+"/api/weather", "") })
	b.Run("authctl", func(b *testing.B) { run(b, inst.url+"/api/weather", tok.AccessToken) })
	b.Run("authctl-metrics", func(b *testing.B) { run(b, withMetrics.url+"/api/weather", tokM.AccessToken) })
}

// BenchmarkWeatherHandler is the protected request path without sockets: the handler chain
// (access log, request id, CORS, body limit, bearer check, JSON) called in-process, with and
// without the metrics of --metrics-addr. On a busy machine the loopback throughput of
// BenchmarkWeather swings by 2× between runs; CPU time and allocations per request here
// show what the metrics themselves add.
func BenchmarkWeatherHandler(b *testing.B) {
	for _, metricsOn := range []bool{false, true} {
		name := "authctl"
		if metricsOn {
			name = "authctl-metrics"
		}
		b.Run(name, func(b *testing.B) {
			st := openSQLite(b)
			addUser(b, st, "alice")
			h, tok := handlerWith(b, st, metricsOn)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/api/weather", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				for pb.Next() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		})
	}
}

// handlerWith is the handler of startWith, without a server, and an access token of alice.
func handlerWith(b *testing.B, st server.Store, metricsOn bool) (http.Handler, string) {
	b.Helper()
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheap
	var requests httpapi.RequestObserver
	var m *metrics.Metrics
	if metricsOn {
		m = metrics.New("bench")
		requests = m
		st = m.Store(st)
	}
	svc, err := server.NewService(context.Background(), cfg, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	if m != nil {
		svc.SetObserver(m)
	}
	tok, err := svc.Login(context.Background(), "alice", password, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	return httpapi.New(svc, httpapi.Config{Requests: requests}, slog.New(slog.DiscardHandler)), tok.AccessToken
}

// refreshChains runs b.N refreshes spread over 16 chains (one login each), each chain
// sending its latest refresh token to the next instance in turn.
func refreshChains(b *testing.B, insts []instance, users []string) {
	c := httpClient()
	var next atomic.Int64
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 chains on this machine
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) - 1)
		user := users[i%len(users)]
		tok, err := login(c, insts[i%len(insts)].url, user)
		if err != nil {
			b.Error(err)
			return
		}
		for n := i; pb.Next(); n++ {
			tok, err = post(c, insts[n%len(insts)].url+"/api/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refresh/s")
}

func chainUsers(b *testing.B, st server.Store) []string {
	users := make([]string, 16)
	for i := range users {
		users[i] = fmt.Sprintf("chain%02d", i)
		addUser(b, st, users[i])
	}
	return users
}

// BenchmarkRefresh measures rotations per second over HTTP with 16 concurrent chains: on
// SQLite, and on one and two replicas sharing PostgreSQL (AUTHCTL_BENCH_POSTGRES, a database
// the benchmark may fill; skipped when unset).
func BenchmarkRefresh(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st := openSQLite(b)
		refreshChains(b, []instance{start(b, st, cheap)}, chainUsers(b, st))
	})
	b.Run("sqlite-metrics", func(b *testing.B) {
		st := openSQLite(b)
		refreshChains(b, []instance{startWith(b, st, cheap, true)}, chainUsers(b, st))
	})
	dsn := os.Getenv("AUTHCTL_BENCH_POSTGRES")
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("postgres-%dreplica", replicas), func(b *testing.B) {
			if dsn == "" {
				b.Skip("set AUTHCTL_BENCH_POSTGRES to a database URL to measure PostgreSQL")
			}
			var insts []instance
			var first server.Store
			for range replicas {
				st, err := postgres.Open(context.Background(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				if first == nil {
					first = st
				}
				insts = append(insts, start(b, st, cheap))
			}
			users := make([]string, 16)
			prefix := fmt.Sprintf("b%d-", time.Now().UnixNano())
			for i := range users {
				users[i] = prefix + fmt.Sprint(i)
				addUser(b, first, users[i])
			}
			refreshChains(b, insts, users)
		})
	}
}

// BenchmarkLogin reports the median login latency over HTTP with the production argon2id
// parameters beside the median of the bare argon2id hash, and their difference.
func BenchmarkLogin(b *testing.B) {
	st := openSQLite(b)
	h := server.NewPasswordHasher(server.DefaultArgon2, 0)
	if _, err := server.AddUser(context.Background(), st, h, "alice", "user", password, time.Now()); err != nil {
		b.Fatal(err)
	}
	inst := start(b, st, server.DefaultArgon2)
	c := httpClient()
	p := server.DefaultArgon2
	salt := []byte("0123456789abcdef")
	var bare, logins []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
		bare = append(bare, time.Since(t0))
		t0 = time.Now()
		if _, err := login(c, inst.url, "alice"); err != nil {
			b.Fatal(err)
		}
		logins = append(logins, time.Since(t0))
	}
	hash, lg := median(bare), median(logins)
	b.ReportMetric(ms(hash), "hash-p50-ms")
	b.ReportMetric(ms(lg), "login-p50-ms")
	b.ReportMetric(ms(lg-hash), "overhead-ms")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
