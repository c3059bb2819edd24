package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheap keeps unit tests fast; the production cost is checked separately.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHasher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewPasswordHasher(cheap, 2)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the hash is a PHC string with the hasher's parameters", func(t *testing.T) {
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "correct") {
			t.Errorf("hash %q", enc)
		}
		p, salt, key, err := parsePHC(enc)
		if err != nil || p != cheap || len(salt) != saltLen || len(key) != keyLen {
			t.Errorf("%+v %d %d %v", p, len(salt), len(key), err)
		}
	})
	t.Run("the right password verifies", func(t *testing.T) {
		if ok, err := h.Verify(ctx, enc, "correct horse"); !ok || err != nil {
			t.Errorf("%v %v", ok, err)
		}
	})
	t.Run("a wrong password does not", func(t *testing.T) {
		for _, pw := range []string{"correct horsE", "correct horse ", "", "correct"} {
			if ok, err := h.Verify(ctx, enc, pw); ok || err != nil {
				t.Errorf("%q: %v %v", pw, ok, err)
			}
		}
	})
	t.Run("two hashes of one password differ by salt", func(t *testing.T) {
		if again, _ := h.Hash(ctx, "correct horse"); again == enc {
			t.Error("salt reused")
		}
	})
	t.Run("a hash made with other parameters still verifies", func(t *testing.T) {
		old, _ := NewPasswordHasher(Argon2Params{Memory: 128, Time: 2, Threads: 2}, 1).Hash(ctx, "pw")
		if ok, err := h.Verify(ctx, old, "pw"); !ok || err != nil {
			t.Errorf("%v %v", ok, err)
		}
	})
	t.Run("parameters argon2 cannot honour are an error, not a panic", func(t *testing.T) {
		for _, p := range []Argon2Params{{}, {Memory: 64, Time: 0, Threads: 1}, {Memory: 64, Time: 1, Threads: 0}, {Memory: 7, Time: 1, Threads: 1}} {
			if _, err := NewPasswordHasher(p, 1).Hash(ctx, "pw"); err == nil {
				t.Errorf("%+v accepted", p)
			}
		}
	})
	t.Run("the production parameters meet OWASP's minimum", func(t *testing.T) {
		if DefaultArgon2.Memory < 19*1024 || DefaultArgon2.Time < 2 || DefaultArgon2.Threads < 1 {
			t.Errorf("%+v", DefaultArgon2)
		}
	})
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	t.Parallel()
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	h := NewPasswordHasher(cheap, 1)
	for _, tc := range []struct{ name, hash string }{
		{"an empty string", ""},
		{"plain text", "hunter2"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"bcrypt", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"a missing parameter", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"a leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"a plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"memory overflowing uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 KiB per thread", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"time over the bound", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads overflowing uint8", "$argon2id$v=19$m=4096,t=1,p=257$" + salt + "$" + key},
		{"a salt that is not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"a line break inside the key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:4] + "\r\n" + key[4:]},
		{"a padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"a short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"a short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$aGFzaA"},
		{"an empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"an extra field", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$x"},
		{"text before the first dollar", "x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
	} {
		t.Run(tc.name+" is an error", func(t *testing.T) {
			ok, err := h.Verify(context.Background(), tc.hash, "password")
			if ok || err == nil {
				t.Errorf("%v %v", ok, err)
			}
		})
	}
}

func TestHasherConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(cheap, 2)
	if h.queue.slots != 2 {
		t.Fatalf("bound %d", h.queue.slots)
	}
	// Occupy both slots as two long hashes would.
	var held []func()
	for range 2 {
		release, err := h.queue.acquire(context.Background(), "10.0.0.9", queueLimits{})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}

	t.Run("a third hash waits for a slot and gives up with its context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Hash: %v", err)
		}
		if ok, err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "pw"); ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Verify: %v %v", ok, err)
		}
		if _, waiting, _ := h.queue.load(); waiting != 0 {
			t.Errorf("%d callers still queued after giving up", waiting)
		}
	})
	t.Run("it proceeds once a slot frees", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := h.Hash(context.Background(), "pw")
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("hashed with every slot taken: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		held[0]()
		held[0]() // a second call of a release is harmless
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if running, _, _ := h.queue.load(); running != 1 {
			t.Errorf("%d slots held after the hash; want the 1 still occupied", running)
		}
	})
	held[1]()
	if running, waiting, clients := h.queue.load(); running+waiting+clients != 0 {
		t.Errorf("left behind: %d running, %d waiting, %d clients", running, waiting, clients)
	}
	t.Run("zero concurrency means one per CPU", func(t *testing.T) {
		if NewPasswordHasher(cheap, 0).queue.slots < 1 {
			t.Error("no slots")
		}
	})
}

func TestHasherNeverRunsMoreHashesThanItsBound(t *testing.T) {
	t.Parallel()
	const bound, callers = 3, 24
	h := NewPasswordHasher(cheap, bound)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	// Every hash holds its slot until release, so all callers pile up at the semaphore and
	// the count of hashes in flight is exactly what the bound lets through.
	var running, peak atomic.Int32
	release := make(chan struct{})
	h.idKeyFunc = func(pw, salt []byte, tm, mem uint32, threads uint8, n uint32) []byte {
		now := running.Add(1)
		for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		return argon2.IDKey(pw, salt, tm, mem, threads, n)
	}
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				h.Hash(context.Background(), "pw")
			case 1:
				h.Verify(context.Background(), enc, "pw")
			default:
				h.VerifyDummy(context.Background(), "pw")
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); running.Load() < bound && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // room for a hash past the bound to show itself
	close(release)
	wg.Wait()
	if p := peak.Load(); p != bound {
		t.Errorf("%d hashes ran at once; want exactly the bound, %d", p, bound)
	}
	if running, waiting, clients := h.queue.load(); running+waiting+clients != 0 {
		t.Errorf("leaked: %d running, %d waiting, %d clients", running, waiting, clients)
	}
}

func TestHashQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bounded := queueLimits{perClient: 2, total: 3}
	mustAcquire := func(t *testing.T, q *hashQueue, client string, lim queueLimits) func() {
		t.Helper()
		release, err := q.acquire(ctx, client, lim)
		if err != nil {
			t.Fatal(err)
		}
		return release
	}
	// enqueue starts a caller that waits in the queue, and returns once it is waiting; the
	// caller's name goes to order when it is granted, and it releases at once.
	enqueue := func(t *testing.T, q *hashQueue, client, name string, lim queueLimits, order chan<- string) {
		t.Helper()
		_, before, _ := q.load()
		go func() {
			release, err := q.acquire(ctx, client, lim)
			if err != nil {
				order <- "error: " + err.Error()
				return
			}
			order <- name
			release()
		}()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, waiting, _ := q.load(); waiting > before {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never queued", name)
			}
		}
	}

	t.Run("freed slots go round-robin by client, FIFO within one", func(t *testing.T) {
		t.Parallel()
		q := newHashQueue(1)
		hold := mustAcquire(t, q, "x", queueLimits{})
		order := make(chan string, 4)
		for _, c := range []struct{ client, name string }{{"a", "a1"}, {"a", "a2"}, {"a", "a3"}, {"b", "b1"}} {
			enqueue(t, q, c.client, c.name, queueLimits{}, order)
		}
		hold()
		var got []string
		for range 4 {
			got = append(got, <-order)
		}
		if want := []string{"a1", "b1", "a2", "a3"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("served %v; want %v", got, want)
		}
	})
	t.Run("a bounded client runs on at most half the slots", func(t *testing.T) {
		t.Parallel()
		q := newHashQueue(4)
		a1, a2 := mustAcquire(t, q, "a", bounded), mustAcquire(t, q, "a", bounded)
		order := make(chan string, 2)
		enqueue(t, q, "a", "a3", bounded, order)
		if running, _, _ := q.load(); running != 2 {
			t.Errorf("%d running; want 2 of 4 slots for one client", running)
		}
		b := mustAcquire(t, q, "b", bounded) // a free slot for another client at once
		a1()
		if got := <-order; got != "a3" {
			t.Errorf("got %s", got)
		}
		a2()
		b()
	})
	t.Run("a client's excess is refused at once with 429, the total's with 503", func(t *testing.T) {
		t.Parallel()
		q := newHashQueue(2)
		a1 := mustAcquire(t, q, "a", bounded)
		b1 := mustAcquire(t, q, "b", bounded)
		order := make(chan string, 3)
		enqueue(t, q, "a", "a2", bounded, order)
		enqueue(t, q, "a", "a3", bounded, order)
		var rl *RateLimitError
		if _, err := q.acquire(ctx, "a", bounded); !errors.As(err, &rl) || rl.RetryAfter < time.Second || !rl.Queued {
			t.Errorf("a's third waiter: %v", err)
		}
		enqueue(t, q, "c", "c1", bounded, order)
		var ov *OverloadError
		if _, err := q.acquire(ctx, "d", bounded); !errors.As(err, &ov) || ov.RetryAfter < time.Second {
			t.Errorf("the fourth waiter in all: %v", err)
		}
		a1()
		b1()
		for range 3 {
			if got := <-order; strings.HasPrefix(got, "error") {
				t.Error(got)
			}
		}
		// The last caller releases just after it says it was granted.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			running, waiting, clients := q.load()
			if running+waiting+clients == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("left behind: %d running, %d waiting, %d clients", running, waiting, clients)
			}
		}
	})
	t.Run("the server's own hashing is never refused", func(t *testing.T) {
		t.Parallel()
		q := newHashQueue(1)
		hold := mustAcquire(t, q, "a", bounded)
		order := make(chan string, 10)
		for i := range 10 {
			enqueue(t, q, localClient, fmt.Sprint("local", i), bounded, order)
		}
		hold()
		for range 10 {
			if got := <-order; strings.HasPrefix(got, "error") {
				t.Error(got)
			}
		}
	})
}

// Not parallel: it measures time, and other tests' hashing on the same cores is noise.
func TestUnknownUserCostsAsMuchAsAWrongPassword(t *testing.T) {
	ctx := context.Background()
	h := NewPasswordHasher(Argon2Params{Memory: 8 * 1024, Time: 2, Threads: 1}, 1)
	enc, err := h.Hash(ctx, "secret password")
	if err != nil {
		t.Fatal(err)
	}
	h.VerifyDummy(ctx, "warm up")
	dummy := h.dummy
	if _, _, _, err := parsePHC(dummy); err != nil {
		t.Fatalf("dummy hash %q: %v", dummy, err)
	}
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	// Interleaved, best of several: the machine is shared, and the minimum is the honest cost.
	wrong, unknown := time.Hour, time.Hour
	for range 7 {
		wrong = min(wrong, timed(func() { h.Verify(ctx, enc, "guess") }))
		unknown = min(unknown, timed(func() { h.VerifyDummy(ctx, "guess") }))
	}
	if ratio := float64(unknown) / float64(wrong); ratio < 0.5 || ratio > 2 {
		t.Errorf("unknown user %v vs wrong password %v", unknown, wrong)
	}
	if h.dummy != dummy {
		t.Error("the dummy hash was made more than once")
	}
}

// FuzzParsePHC: stored hashes are parsed without panics, and whatever is accepted is within
// bounds and spelled exactly as this package would write it.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := parsePHC(s)
		if err != nil {
			return
		}
		if !p.valid() || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
			t.Fatalf("accepted out-of-bounds hash %q: %+v", s, p)
		}
		if again := encodePHC(p, salt, key); again != s {
			t.Fatalf("accepted a non-canonical spelling %q of %q", s, again)
		}
	})
}

// BenchmarkHash is the bare cost of argon2id at the production parameters, to compare with
// BenchmarkPasswordVerify (parse + semaphore + the same hash + constant-time compare).
func BenchmarkHash(b *testing.B) {
	p := DefaultArgon2
	salt := make([]byte, saltLen)
	for b.Loop() {
		argon2.IDKey([]byte("correct horse"), salt, p.Time, p.Memory, p.Threads, keyLen)
	}
}

func BenchmarkPasswordVerify(b *testing.B) {
	ctx := context.Background()
	h := NewPasswordHasher(DefaultArgon2, 1)
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := h.Verify(ctx, enc, "correct horse"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
