package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// loginStore is what a login needs from the Store.
type loginStore interface {
	UserByName(ctx context.Context, name string) (User, error)
	CreateSession(ctx context.Context, s Session, first RefreshToken) error
}

// loginFlow checks a username and password against the limiter and the stored hash, and
// opens a new session (refresh-token family).
type loginFlow struct {
	store      loginStore
	hasher     *PasswordHasher
	limiter    *LoginLimiter
	mint       *minter
	log        *slog.Logger
	now        func() time.Time
	refreshTTL time.Duration

	events loginEvents // zero value ready; logs through log
	obs    observer    // zero value ready; reports to nobody
}

// unknownAddr stands for a missing client address, so that such logins still share a bucket
// and a queue instead of passing as the server's own hashing.
const unknownAddr = "unknown"

func (f *loginFlow) login(ctx context.Context, username, password string, client ClientInfo) (_ Tokens, err error) {
	defer func() { f.obs.loggedIn(err) }()
	clientAddr := client.Addr
	if len(username) > 256 || len(password) > maxPasswordLen {
		// No such user can exist; refusing before the limiter keeps its keys and the log small.
		return Tokens{}, ErrInvalidCredentials
	}
	if clientAddr == "" {
		clientAddr = unknownAddr
	}
	// The reservation is taken before anything else, and held while the password is
	// hashed: concurrent guesses cannot all pass a check that only counts them afterwards.
	res, err := f.limiter.Reserve(username, clientAddr, f.now())
	if err != nil {
		f.events.refused(f.log, username, clientAddr, err)
		return Tokens{}, err
	}
	u, err := f.check(ctx, username, password, clientAddr)
	switch {
	case err == nil:
		res.Succeeded(f.now())
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, errBadHash):
		// A corrupt stored hash counts too: it never verifies, and the attempt is a guess.
		res.Failed()
		if errors.Is(err, ErrInvalidCredentials) {
			f.events.failed(f.log, username, clientAddr)
		}
		return Tokens{}, err
	default:
		// Shed by the hash queue, store down or client gone: no password was checked.
		res.Cancel(f.now())
		var rl *RateLimitError
		var ov *OverloadError
		if errors.As(err, &rl) || errors.As(err, &ov) {
			f.events.refused(f.log, username, clientAddr, err)
		}
		return Tokens{}, err
	}

	now := f.now()
	sid, err := newSessionID()
	if err != nil {
		return Tokens{}, err
	}
	refresh, err := randomToken(refreshTokenBytes)
	if err != nil {
		return Tokens{}, err
	}
	sess := Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(f.refreshTTL),
		ClientAddr: logAddr(client.Addr), UserAgent: cleanUserAgent(client.UserAgent)}
	first := RefreshToken{Hash: hashToken(refresh), SessionID: sid, IssuedAt: now}
	if err := f.store.CreateSession(ctx, sess, first); err != nil {
		return Tokens{}, unavailable("create session", err)
	}
	f.log.Info("login", userAttr(u.Name), "sid", sid, "addr", logAddr(clientAddr))
	return f.mint.tokens(u, sess, refresh, now)
}

// check looks the user up and verifies the password in the client's turn of the hash queue.
// A wrong password and an unknown user are both ErrInvalidCredentials after the same work.
func (f *loginFlow) check(ctx context.Context, username, password, clientAddr string) (User, error) {
	u, err := f.store.UserByName(ctx, username)
	q := f.limiter.cfg.queue()
	switch {
	case errors.Is(err, ErrNotFound):
		// Spend the same time as a wrong password so that timing does not reveal users.
		if err := f.hasher.verifyDummyFor(ctx, clientAddr, q, password); err != nil {
			return User{}, hashWaitError(ctx, err)
		}
		return User{}, ErrInvalidCredentials
	case err != nil:
		return User{}, unavailable("look up user", err)
	}
	ok, err := f.hasher.verifyFor(ctx, clientAddr, q, u.PasswordHash, password)
	switch {
	case errors.Is(err, errBadHash):
		return User{}, fmt.Errorf("verify password of %s: %w", logName(u.Name), err)
	case err != nil:
		return User{}, hashWaitError(ctx, err)
	case !ok:
		return User{}, ErrInvalidCredentials
	}
	return u, nil
}

// hashWaitError is what a login answers when it never got to hash: the queue's refusal as
// is, or the client's own cancellation.
func hashWaitError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Log hygiene: what a client sends as a username reaches the log only when it is a valid
// username, which is short and plain (a password typed into the user field is not); and
// failures are logged one by one only up to a budget per interval, the rest summed up, so
// that a flood of refused logins writes a few lines every ten seconds instead of one each.
const (
	loginLogInterval = 10 * time.Second
	loginLogLines    = 10 // individual lines per kind of event and interval
	maxLogAddr       = 64 // bytes of a client address written; an IPv6 address needs 45
	topAddrs         = 8  // addresses counted per interval to name the busiest
)

// userAttr is the username as a log attribute, or user_invalid=true for a name that no user
// can have.
func userAttr(name string) slog.Attr {
	if !ValidUsername(name) {
		return slog.Bool("user_invalid", true)
	}
	return slog.String("user", name)
}

// logName is a username for an error message, under the same rule as userAttr.
func logName(name string) string {
	if !ValidUsername(name) {
		return "(invalid username)"
	}
	return name
}

// logAddr is a client address cut to maxLogAddr bytes: it comes from the peer or from a
// trusted proxy's header, and a log line is no place for more than an address.
func logAddr(addr string) string {
	if len(addr) > maxLogAddr {
		return addr[:maxLogAddr]
	}
	return addr
}

// loginEvents rate-limits the log lines of failed and refused logins. Its zero value is
// ready: the first event of an interval starts a timer that writes the summary at its end.
type loginEvents struct {
	mu     sync.Mutex
	open   bool // an interval is running and its timer set
	counts [eventKinds]int
	lines  [eventKinds]int // individual lines written, per kind
	top    topCounter
}

// The kinds of login event counted; each has its own line budget, so that a burst of
// failures does not hide the first refusals.
const (
	eventFailed  = iota // wrong password or unknown user (401)
	eventRefused        // limiter or per-address queue bound (429)
	eventShed           // overload (503)
	eventKinds
)

func (e *loginEvents) failed(log *slog.Logger, user, addr string) {
	if e.note(log, addr, eventFailed) {
		log.Warn("login failed", userAttr(user), "addr", logAddr(addr), "event", "login_failed")
	}
}

// refused records a login turned away without a password check: by the limiter or the hash
// queue (*RateLimitError) or for overload (*OverloadError).
func (e *loginEvents) refused(log *slog.Logger, user, addr string, err error) {
	var ov *OverloadError
	var rl *RateLimitError
	kind, reason, wait := eventRefused, "rate_limited", time.Duration(0)
	switch {
	case errors.As(err, &ov):
		kind, reason, wait = eventShed, "overloaded", ov.RetryAfter
	case errors.As(err, &rl):
		wait = rl.RetryAfter
	}
	if e.note(log, addr, kind) {
		log.Warn("login refused", "reason", reason, userAttr(user), "addr", logAddr(addr), "retry_after", wait, "event", "login_refused")
	}
}

// note counts an event and reports whether it may have a line of its own.
func (e *loginEvents) note(log *slog.Logger, addr string, kind int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.open {
		e.open = true
		time.AfterFunc(loginLogInterval, func() { e.flush(log) })
	}
	e.counts[kind]++
	e.top.add(logAddr(addr))
	if e.lines[kind] >= loginLogLines {
		return false
	}
	e.lines[kind]++
	return true
}

// flush ends the interval. The summary is written only when lines were held back: with
// fewer events, every one of them is in the log already.
func (e *loginEvents) flush(log *slog.Logger) {
	e.mu.Lock()
	counts, lines := e.counts, e.lines
	addr, n := e.top.max()
	e.open, e.counts, e.lines, e.top = false, [eventKinds]int{}, [eventKinds]int{}, topCounter{}
	e.mu.Unlock()
	total, logged := 0, 0
	for k := range counts {
		total, logged = total+counts[k], logged+lines[k]
	}
	if total > logged {
		log.Warn("login failures summary", "interval", loginLogInterval, "failed", counts[eventFailed],
			"refused", counts[eventRefused], "shed", counts[eventShed], "not_logged", total-logged,
			"top_addr", addr, "top_addr_count", n, "event", "login_failures_summary")
	}
}

// topCounter finds the busiest address in a stream with a fixed number of counters (the
// space-saving algorithm): an address that sent more than 1/topAddrs of the events is
// certain to be counted, and its count is over by at most the smallest counter.
type topCounter struct {
	addrs  [topAddrs]string
	counts [topAddrs]int
}

func (t *topCounter) add(addr string) {
	low := 0
	for i := range t.addrs {
		switch {
		case t.counts[i] > 0 && t.addrs[i] == addr:
			t.counts[i]++
			return
		case t.counts[i] == 0:
			t.addrs[i], t.counts[i] = addr, 1
			return
		case t.counts[i] < t.counts[low]:
			low = i
		}
	}
	t.addrs[low] = addr
	t.counts[low]++
}

func (t *topCounter) max() (string, int) {
	best := 0
	for i := range t.counts {
		if t.counts[i] > t.counts[best] {
			best = i
		}
	}
	return t.addrs[best], t.counts[best]
}
