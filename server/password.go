package server

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is OWASP's minimum recommendation for argon2id.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on parameters read from a stored hash, so that a corrupt or hostile row cannot
	// ask for gigabytes or minutes per login.
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 100
	maxThreads = 64
)

var errBadHash = errors.New("malformed argon2id hash")

func (p Argon2Params) valid() bool {
	return p.Threads >= 1 && p.Threads <= maxThreads && p.Time >= 1 && p.Time <= maxTime &&
		p.Memory >= 8*uint32(p.Threads) && p.Memory <= maxMemory
}

// PasswordHasher hashes and verifies argon2id passwords, running at most a fixed number of
// hashes at once so that a burst of logins cannot exhaust memory (each costs Memory KiB).
// Waiting callers are served round-robin by client (see hashQueue), so that one client
// flooding the login endpoint delays another by at most about one hash.
type PasswordHasher struct {
	p     Argon2Params
	queue *hashQueue
	// idKeyFunc is argon2.IDKey; tests wrap it to count the hashes running at once.
	idKeyFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

	dummyOnce sync.Once
	dummy     string
}

// NewPasswordHasher returns a hasher for p allowing concurrency hashes at once (≤ 0: one
// per usable CPU).
func NewPasswordHasher(p Argon2Params, concurrency int) *PasswordHasher {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	return &PasswordHasher{p: p, queue: newHashQueue(concurrency), idKeyFunc: argon2.IDKey}
}

// idKey runs argon2id inside the concurrency bound, in client's turn; waiting for a slot
// honours ctx, and q may refuse to queue at all (*RateLimitError, *OverloadError).
func (h *PasswordHasher) idKey(ctx context.Context, client string, q queueLimits, p Argon2Params, password string, salt []byte, n uint32) ([]byte, error) {
	release, err := h.queue.acquire(ctx, client, q)
	if err != nil {
		return nil, err
	}
	defer release()
	return h.idKeyFunc([]byte(password), salt, p.Time, p.Memory, p.Threads, n), nil
}

// Hash returns the PHC string of password with a fresh salt.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if !h.p.valid() {
		// argon2 panics on some of these and silently changes others.
		return "", fmt.Errorf("argon2id parameters out of range: %+v", h.p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key, err := h.idKey(ctx, localClient, queueLimits{}, h.p, password, salt, keyLen)
	if err != nil {
		return "", err
	}
	return encodePHC(h.p, salt, key), nil
}

// Verify reports whether password matches the encoded hash, comparing in constant time.
// The cost parameters come from the hash, so old hashes keep verifying after a change.
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	return h.verifyFor(ctx, localClient, queueLimits{}, encoded, password)
}

// verifyFor is Verify on behalf of a remote client, queued under q.
func (h *PasswordHasher) verifyFor(ctx context.Context, client string, q queueLimits, encoded, password string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.idKey(ctx, client, q, p, password, salt, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends what Verify spends against a hash made with the hasher's parameters,
// so that a login for an unknown user takes as long as a wrong password.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) {
	_ = h.verifyDummyFor(ctx, localClient, queueLimits{}, password)
}

// verifyDummyFor is VerifyDummy on behalf of a remote client, queued under q. Its only
// errors are the queue's and ctx's: the work it stands for was not done.
func (h *PasswordHasher) verifyDummyFor(ctx context.Context, client string, q queueLimits, password string) error {
	h.dummyOnce.Do(func() {
		secret := make([]byte, 32)
		rand.Read(secret) // never fails (crypto/rand)
		// Background: the one hash that makes the dummy must not be lost to one caller's
		// cancelled context, or every later call would be fast.
		h.dummy, _ = h.Hash(context.Background(), string(secret))
	})
	_, err := h.verifyFor(ctx, client, q, h.dummy, password)
	return err
}

// localClient names the server's own hashing (user management, the dummy hash): it is
// never refused and has no share cap, only its turn in the round.
const localClient = ""

// queueLimits bound how many callers may wait for a hash. Zero fields mean no bound.
type queueLimits struct {
	// perClient: callers of one client waiting (not yet hashing); when set, one client also
	// runs at most half the slots (at least one), so another client finds a slot free.
	perClient int
	total     int // callers waiting in all
}

// hashQueue hands out the hasher's slots. Callers wait per client, and a freed slot goes to
// the next client in round-robin order, FIFO within a client; so one client queueing
// hundreds of logins delays another client's login by at most about one hash, not by the
// whole queue. Per-client state exists only while the client is hashing or waiting, so the
// map is bounded by the slots plus the waiting bound.
type hashQueue struct {
	slots int

	mu      sync.Mutex
	running int
	waiting int
	clients map[string]*clientQueue
	turns   *list.List    // clients with waiters, in serving order; values are *clientQueue
	avg     time.Duration // moving average of a hash, for Retry-After
}

type clientQueue struct {
	name    string
	maxRun  int
	running int
	waiters []*hashWaiter // FIFO
	turn    *list.Element // in turns while waiters is non-empty
}

type hashWaiter struct {
	ready   chan struct{} // closed when granted
	granted bool
}

func newHashQueue(slots int) *hashQueue {
	return &hashQueue{slots: slots, clients: map[string]*clientQueue{}, turns: list.New()}
}

// acquire waits for client's turn and a free slot, and returns the function that frees it.
// When client already has q.perClient callers waiting it is refused at once with a
// *RateLimitError, and when q.total callers wait in all with an *OverloadError: shedding at
// once costs nothing, while a queue longer than that only adds latency for everyone.
func (hq *hashQueue) acquire(ctx context.Context, client string, q queueLimits) (func(), error) {
	w := &hashWaiter{ready: make(chan struct{})}
	hq.mu.Lock()
	c := hq.clients[client]
	if c == nil {
		c = &clientQueue{name: client, maxRun: hq.slots}
		if q.perClient > 0 && client != localClient {
			c.maxRun = max(1, hq.slots/2)
		}
		hq.clients[client] = c
	}
	c.waiters = append(c.waiters, w)
	hq.waiting++
	if c.turn == nil {
		c.turn = hq.turns.PushBack(c)
	}
	hq.dispatch()
	if !w.granted && client != localClient {
		var err error
		switch {
		case q.perClient > 0 && len(c.waiters) > q.perClient:
			err = &RateLimitError{RetryAfter: hq.retryAfter(len(c.waiters), c.maxRun), Queued: true}
		case q.total > 0 && hq.waiting > q.total:
			err = &OverloadError{RetryAfter: hq.retryAfter(hq.waiting, hq.slots)}
		}
		if err != nil {
			hq.remove(c, w) // w is c's last waiter: nothing was granted to it
			hq.mu.Unlock()
			return nil, err
		}
	}
	hq.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		hq.mu.Lock()
		granted := w.granted
		if !granted {
			hq.remove(c, w)
		}
		hq.mu.Unlock()
		if !granted {
			return nil, fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
		}
		// Granted while giving up: hand the slot on rather than hash for no one.
		hq.release(c, 0)
		return nil, fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
	}
	start := time.Now()
	var once sync.Once
	return func() { once.Do(func() { hq.release(c, time.Since(start)) }) }, nil
}

// dispatch grants free slots to waiters, one per client in turn; the caller holds mu.
func (hq *hashQueue) dispatch() {
	for hq.running < hq.slots {
		granted := false
		for n := hq.turns.Len(); n > 0 && !granted; n-- {
			e := hq.turns.Front()
			hq.turns.MoveToBack(e)
			c := e.Value.(*clientQueue)
			if c.running >= c.maxRun {
				continue
			}
			w := c.waiters[0]
			c.waiters[0] = nil
			c.waiters = c.waiters[1:]
			hq.waiting--
			hq.running++
			c.running++
			w.granted = true
			close(w.ready)
			if len(c.waiters) == 0 {
				hq.turns.Remove(c.turn)
				c.turn = nil
			}
			granted = true
		}
		if !granted {
			return
		}
	}
}

// remove takes a waiter that was not granted out of c's queue; the caller holds mu.
func (hq *hashQueue) remove(c *clientQueue, w *hashWaiter) {
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			hq.waiting--
			break
		}
	}
	if len(c.waiters) == 0 && c.turn != nil {
		hq.turns.Remove(c.turn)
		c.turn = nil
	}
	hq.forgetIdle(c)
}

// release frees one of c's slots and passes it on. took is how long the hash ran (0: it
// did not run), for the Retry-After estimate.
func (hq *hashQueue) release(c *clientQueue, took time.Duration) {
	hq.mu.Lock()
	defer hq.mu.Unlock()
	hq.running--
	c.running--
	if took > 0 {
		hq.avg += (took - hq.avg) / 8
	}
	hq.forgetIdle(c)
	hq.dispatch()
}

func (hq *hashQueue) forgetIdle(c *clientQueue) {
	if c.running == 0 && len(c.waiters) == 0 {
		delete(hq.clients, c.name)
	}
}

// retryAfter estimates how long until n callers sharing run slots have been served.
func (hq *hashQueue) retryAfter(n, run int) time.Duration {
	return max(time.Second, time.Duration(n)*hq.avg/time.Duration(max(1, run)))
}

// load reports the slots in use and the callers waiting, for tests.
func (hq *hashQueue) load() (running, waiting, clients int) {
	hq.mu.Lock()
	defer hq.mu.Unlock()
	return hq.running, hq.waiting, len(hq.clients)
}

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parsePHC reads "$argon2id$v=19$m=…,t=…,p=…$salt$hash", accepting only the canonical form
// this package writes and parameters within bounds.
func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	fail := func() (Argon2Params, []byte, []byte, error) { return Argon2Params{}, nil, nil, errBadHash }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail()
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return fail()
	}
	var vals [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(params[i], prefix)
		// Canonical decimal only: no sign, no leading zero, so one hash has one spelling.
		if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' {
			return fail()
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return fail()
		}
		vals[i] = v
	}
	if vals[2] > maxThreads {
		return fail()
	}
	p := Argon2Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if !p.valid() {
		return fail()
	}
	salt, ok := decodePHCBase64(parts[4])
	if !ok || len(salt) < 8 || len(salt) > 64 {
		return fail()
	}
	key, ok := decodePHCBase64(parts[5])
	if !ok || len(key) < 16 || len(key) > 64 {
		return fail()
	}
	return p, salt, key, nil
}

// decodePHCBase64 accepts only canonical unpadded base64: the decoder alone skips CR and LF.
func decodePHCBase64(s string) ([]byte, bool) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}
