package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authctl/authctl/internal/testkit"
	"github.com/authctl/authctl/server"
	"github.com/authctl/authctl/server/sqlite"
)

// loginService is a Service over a real SQLite file with alice ("correct horse") and the
// given limits, logging into the returned buffer, with two hashing slots and a stopped clock.
func loginService(t *testing.T, lim server.LimitConfig) (*server.Service, *testkit.Buffer) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Argon2 = cheapArgon2
	cfg.Limits = lim
	frozen := time.Now().Truncate(time.Second)
	cfg.Now = func() time.Time { return frozen } // no bucket refills during a test
	logs := &testkit.Buffer{}
	svc, err := server.NewService(ctx, cfg, st, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	server.SetHashSlots(svc, 2)
	if _, err := server.AddUser(ctx, st, svc.Hasher(), "alice", "user", "correct horse", time.Now()); err != nil {
		t.Fatal(err)
	}
	svc.Hasher().VerifyDummy(ctx, "x") // makes the dummy hash now, outside what tests count
	return svc, logs
}

// hashRecorder stands in for argon2: it records every password hashed, in order, and
// takes at least hold, so that concurrent logins really overlap. A hash of the password
// stuck, when set, waits until unstick is closed.
type hashRecorder struct {
	hold    time.Duration
	stuck   string
	unstick chan struct{}
	mu      sync.Mutex
	started []string
}

func (h *hashRecorder) idKey(pw, salt []byte, tm, mem uint32, threads uint8, n uint32) []byte {
	h.mu.Lock()
	h.started = append(h.started, string(pw))
	h.mu.Unlock()
	if h.stuck != "" && string(pw) == h.stuck {
		<-h.unstick
	}
	time.Sleep(h.hold)
	return argon2.IDKey(pw, salt, tm, mem, threads, n)
}

func (h *hashRecorder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.started)
}

// outcomes sorts login errors by kind.
type outcomes struct {
	mu                        sync.Mutex
	ok, failed, limited, shed int
	other                     []error
}

func (o *outcomes) add(err error) {
	var rl *server.RateLimitError
	var ov *server.OverloadError
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		o.ok++
	case errors.Is(err, server.ErrInvalidCredentials):
		o.failed++
	case errors.As(err, &rl):
		if rl.RetryAfter < time.Second {
			o.other = append(o.other, fmt.Errorf("Retry-After below a second: %w", err))
		}
		o.limited++
	case errors.As(err, &ov):
		o.shed++
	default:
		o.other = append(o.other, err)
	}
}

func TestConcurrentGuessesCannotExceedTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := loginService(t, server.DefaultLimits())
	rec := &hashRecorder{hold: 20 * time.Millisecond}
	server.SetHashFunc(svc, rec.idKey)

	const n = 40
	var got outcomes
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		pw := "wrong password"
		if i == n-1 {
			pw = "correct horse"
		}
		wg.Go(func() {
			<-start
			if i == n-1 {
				time.Sleep(5 * time.Millisecond) // the right password last
			}
			_, err := svc.Login(ctx, "alice", pw, "10.0.0.1")
			got.add(err)
		})
	}
	close(start)
	wg.Wait()
	if len(got.other) > 0 {
		t.Fatalf("unexpected errors: %v", got.other)
	}
	limit := server.DefaultLimits().UserBurst
	if h := rec.count(); h != limit || got.failed+got.ok != limit {
		t.Errorf("%d passwords hashed, %d failed, %d succeeded; want exactly the limit, %d", h, got.failed, got.ok, limit)
	}
	if got.limited != n-limit {
		t.Errorf("%d refused by the limiter; want %d", got.limited, n-limit)
	}

	t.Run("the victim logs in from another address at once", func(t *testing.T) {
		if _, err := svc.Login(ctx, "alice", "correct horse", "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a guess for an unknown user is counted the same", func(t *testing.T) {
		before := rec.count()
		var got outcomes
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := svc.Login(ctx, "nobody", "guess", "10.0.0.3")
				got.add(err)
			})
		}
		wg.Wait()
		if h := rec.count() - before; h != limit || got.failed != limit || got.limited != n-limit {
			t.Errorf("%d hashed, %d failed, %d limited; want %d hashed", h, got.failed, got.limited, limit)
		}
	})
}

// floodLimits lets every guess through the limiter, so that only the hash queue stands
// between a flood and the CPU.
func floodLimits() server.LimitConfig {
	l := server.DefaultLimits()
	l.UserBurst, l.PerUser, l.AddrBurst, l.PerAddr = 1<<30, 1e9, 1<<30, 1e9
	l.UserCeiling, l.CeilingBurst = 0, 0
	return l
}

func TestFloodFromOneAddressDoesNotStarveAnother(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := loginService(t, floodLimits())
	// Every flood hash hangs until the victim is through: the victim can only finish if it
	// needs no flood hash to end first.
	rec := &hashRecorder{hold: 5 * time.Millisecond, stuck: "flood guess", unstick: make(chan struct{})}
	server.SetHashFunc(svc, rec.idKey)

	const flood = 300
	var got outcomes
	var wg sync.WaitGroup
	for i := range flood {
		wg.Go(func() {
			_, err := svc.Login(ctx, fmt.Sprint("user", i), "flood guess", "10.6.6.6")
			got.add(err)
		})
	}
	perAddr := server.DefaultLimits().HashQueuePerAddr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		got.mu.Lock()
		settled := got.limited + got.failed + len(got.other)
		got.mu.Unlock()
		if settled >= flood-1-perAddr {
			break // all but the running and the queued have been answered
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flood never settled: %d answered", settled)
		}
	}
	if running, waiting := server.HashLoad(svc); running != 1 || waiting != perAddr {
		t.Errorf("one address holds %d slots and %d places in the queue; want 1 and %d", running, waiting, perAddr)
	}

	victim := make(chan error, 1)
	began := time.Now()
	go func() {
		_, err := svc.Login(ctx, "alice", "correct horse", "10.0.0.2")
		victim <- err
	}()
	select {
	case err := <-victim:
		if err != nil {
			t.Errorf("victim: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the victim waited behind the flood")
	}
	t.Logf("victim login %v with the flood's hash stuck", time.Since(began))
	close(rec.unstick)
	wg.Wait()
	if len(got.other) > 0 || got.ok > 0 {
		t.Fatalf("flood: %+v", got.other)
	}
	if got.failed != 1+perAddr || got.limited != flood-got.failed {
		t.Errorf("flood: %d hashed, %d shed with 429; want 1 running and %d queued hashed, the rest shed", got.failed, got.limited, perAddr)
	}
}

func TestOverloadIsShedWith503(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lim := floodLimits()
	lim.HashQueue = 16
	svc, _ := loginService(t, lim)
	rec := &hashRecorder{hold: 30 * time.Millisecond}
	server.SetHashFunc(svc, rec.idKey)

	var got outcomes
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := svc.Login(ctx, "alice", "wrong password", fmt.Sprintf("10.7.0.%d", i))
			got.add(err)
		})
	}
	wg.Wait()
	if len(got.other) > 0 {
		t.Fatalf("%v", got.other)
	}
	if got.shed == 0 || got.failed+got.shed != 100 || got.failed != rec.count() {
		t.Errorf("%d hashed, %d shed; want some shed and the rest hashed", got.failed, got.shed)
	}
	t.Run("a shed login uses up no failure slot", func(t *testing.T) {
		lim := server.DefaultLimits()
		lim.HashQueue, lim.UserBurst = 1, 1
		svc, _ := loginService(t, lim)
		server.SetHashFunc(svc, (&hashRecorder{hold: 100 * time.Millisecond}).idKey)
		addr := func(i int) string { return fmt.Sprintf("10.8.0.%d", i) }
		errs := make([]error, 6)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = svc.Login(ctx, "alice", "wrong password", addr(i))
			})
		}
		close(start)
		wg.Wait()
		shed := 0
		for i, err := range errs {
			_, again := svc.Login(ctx, "alice", "correct horse", addr(i))
			var ov *server.OverloadError
			var rl *server.RateLimitError
			switch {
			case errors.As(err, &ov):
				shed++
				if again != nil {
					t.Errorf("%s was shed, then refused its right password: %v", addr(i), again)
				}
			case errors.Is(err, server.ErrInvalidCredentials):
				if !errors.As(again, &rl) {
					t.Errorf("%s used its one failure, then got %v", addr(i), again)
				}
			default:
				t.Errorf("%s: %v", addr(i), err)
			}
		}
		if shed == 0 {
			t.Error("nothing was shed with 6 logins at once, 2 slots and 1 place in the queue")
		}
	})
}

func TestLoginLogsAreBoundedAndClean(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, logs := loginService(t, server.DefaultLimits())

	long := strings.Repeat("n", 256)
	typed := "my secret password!"
	for i := range 10_000 {
		user := "bob"
		switch i % 3 {
		case 1:
			user = long
		case 2:
			user = typed
		}
		svc.Login(ctx, user, "wrong password", "10.0.0.1")
	}
	before := len(logs.String())
	server.FlushLoginLog(svc)
	out := logs.String()
	if before > 6<<10 || len(out) > 7<<10 {
		t.Errorf("10,000 refused logins wrote %d bytes (%d with the summary):\n%s", before, len(out), out)
	}
	for _, secret := range []string{long, typed, "wrong password"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	t.Logf("10,000 refused logins: %d log bytes, %d lines", len(out), strings.Count(out, "\n"))
	if !strings.Contains(out, `msg="login refused" reason=rate_limited`) {
		t.Errorf("no refusal logged on its own:\n%s", out)
	}
	if !strings.Contains(out, "user_invalid=true") || !strings.Contains(out, "user=bob") {
		t.Errorf("the log does not say which lines were for bob and which for invalid names:\n%s", out)
	}
	summary := regexp.MustCompile(`msg="login failures summary".* failed=(\d+) refused=(\d+) shed=0 not_logged=(\d+) top_addr=10.0.0.1 top_addr_count=10000`)
	m := summary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line:\n%s", out)
	}
	if m[1] != "15" || m[2] != "9985" {
		t.Errorf("summary counts %s failed, %s refused; want 5 for each of 3 names, and the rest", m[1], m[2])
	}

	t.Run("a quiet interval gets no summary", func(t *testing.T) {
		svc, logs := loginService(t, server.DefaultLimits())
		svc.Login(ctx, "alice", "wrong password", "10.0.0.1")
		server.FlushLoginLog(svc)
		if out := logs.String(); strings.Contains(out, "summary") || !strings.Contains(out, `msg="login failed" user=alice addr=10.0.0.1`) {
			t.Errorf("log:\n%s", out)
		}
	})
	t.Run("a success is always logged, with the user", func(t *testing.T) {
		svc, logs := loginService(t, server.DefaultLimits())
		if _, err := svc.Login(ctx, "alice", "correct horse", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), `msg=login user=alice sid=`) {
			t.Errorf("log:\n%s", logs.String())
		}
	})
}
