package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zalando/go-keyring"
)

// Service is the keyring service name of every entry.
const Service = "authctl"

// ChunkSize is the largest value stored in one keyring entry. Windows' Credential Manager
// takes 2560 bytes and macOS' Keychain about 3 KB once go-keyring has base64-encoded it; one
// conservative size for every platform keeps a session portable. When a keyring still says
// the value is too big (a long server URL counts against macOS' limit), Save halves the size
// down to minChunkSize.
var ChunkSize = 2000

const (
	minChunkSize = 256
	// maxParts bounds what a corrupt header can make Load read.
	maxParts    = 256
	chunkHeader = "authctl-chunks:"
)

// backend is the part of go-keyring used here, so that tests can inject failures.
type backend interface {
	Get(service, user string) (string, error)
	Set(service, user, value string) error
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (osKeyring) Set(s, u, v string) error        { return keyring.Set(s, u, v) }
func (osKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// keyringStore keeps one logical entry per server in the OS keyring, under the server URL as
// the user name. A session larger than ChunkSize is stored as parts "server#1"…"server#N"
// and a header "authctl-chunks:N" under the server URL itself.
type keyringStore struct {
	b       backend
	timeout time.Duration
	// getenv, when set, is consulted before every call for the session bus (busMissing);
	// tests with a fake backend leave it nil.
	getenv func(string) string
}

// NewKeyring returns a store in the OS keyring whose calls give up after timeout.
func NewKeyring(timeout time.Duration) Store {
	return &keyringStore{b: osKeyring{}, timeout: timeout, getenv: os.Getenv}
}

func (k *keyringStore) Name() string { return "keyring (service " + Service + ")" }

// Why the keyring cannot be used, by kind, so that a message can say which: there is none,
// it is there but locked, or it did not answer in time. Errors of this package wrap one
// of them with the detail.
var (
	// ErrNoKeyring means there is nothing to talk to: no session bus, or no Secret Service
	// on it.
	ErrNoKeyring = errors.New("no OS keyring")
	// ErrKeyringLocked means the keyring is there but locked, and the unlock prompt was
	// dismissed or could not be shown (no display).
	ErrKeyringLocked = errors.New("the OS keyring is locked")
	// ErrKeyringTimeout means the keyring did not answer in time (an unlock prompt may be
	// waiting, or the Secret Service hangs).
	ErrKeyringTimeout = errors.New("the OS keyring did not answer")
)

// busMissing says why there is no session bus to reach the Secret Service through, or ""
// when one is configured. Without DBUS_SESSION_BUS_ADDRESS (or with "autolaunch:") the
// D-Bus library would run dbus-launch, which forks a dbus-daemon that outlives authctl —
// one orphan per call — and then wait for a Secret Service that is not there. So no call
// is made at all.
func busMissing(getenv func(string) string) string {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "android", "plan9", "js", "wasip1":
		return "" // Keychain, Credential Manager: no D-Bus involved
	}
	switch getenv("DBUS_SESSION_BUS_ADDRESS") {
	case "":
		return "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset"
	case "autolaunch:":
		return "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS asks for autolaunch, which would leave a dbus-daemon behind"
	}
	return ""
}

// call runs fn under the timeout. go-keyring calls block and cannot be cancelled, so an
// abandoned call finishes in its goroutine and its result is dropped.
func (k *keyringStore) call(ctx context.Context, fn func() error) error {
	if k.getenv != nil {
		if why := busMissing(k.getenv); why != "" {
			return &unusableError{kind: ErrNoKeyring, detail: " (" + why + ")", advice: "use --keystore file"}
		}
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(k.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return classify(err)
	case <-t.C:
		return &unusableError{kind: ErrKeyringTimeout, detail: fmt.Sprintf(" within %v (an unlock prompt may be waiting)", k.timeout), advice: "try --keystore file"}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// classify sorts a backend failure into ErrNoKeyring or ErrKeyringLocked where it can.
// go-keyring and its D-Bus library return untyped errors, so their texts are matched: the
// D-Bus error names and the sentences the libraries are known to write.
func classify(err error) error {
	if err == nil || errors.Is(err, keyring.ErrNotFound) || errors.Is(err, keyring.ErrSetDataTooBig) {
		return err
	}
	msg := err.Error()
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("failed to unlock", "IsLocked", "is locked"):
		return &unusableError{kind: ErrKeyringLocked, detail: " (the unlock prompt was dismissed or could not be shown: " + msg + ")", advice: "unlock it, or use --keystore file"}
	case has("ServiceUnknown", "was not provided by any .service files"):
		return &unusableError{kind: ErrNoKeyring, detail: " (no Secret Service on the session bus: " + msg + ")", advice: "use --keystore file"}
	case has("dial unix", "connection refused", "no such file or directory", "couldn't determine address of session bus"):
		return &unusableError{kind: ErrNoKeyring, detail: " (the D-Bus session bus does not answer: " + msg + ")", advice: "use --keystore file"}
	}
	return err
}

// unusableError is why the keyring cannot be used: one of the kinds above, what was seen,
// and what to do.
type unusableError struct {
	kind   error  // ErrNoKeyring, ErrKeyringLocked or ErrKeyringTimeout
	detail string // follows the kind's words: " (what was seen)" or " within 3s (…)"
	advice string
}

func (e *unusableError) Error() string { return e.reason() + "; " + e.advice }
func (e *unusableError) Unwrap() error { return e.kind }

// reason is the message without the advice, for sentences that give their own.
func (e *unusableError) reason() string { return e.kind.Error() + e.detail }

// reasonOf is err's reason when it is an unusableError, else its message.
func reasonOf(err error) string {
	var ue *unusableError
	if errors.As(err, &ue) {
		return ue.reason()
	}
	return err.Error()
}

func (k *keyringStore) get(ctx context.Context, user string) (string, error) {
	var v string
	err := k.call(ctx, func() error {
		var err error
		v, err = k.b.Get(Service, user)
		return err
	})
	return v, err
}

func (k *keyringStore) set(ctx context.Context, user, value string) error {
	return k.call(ctx, func() error { return k.b.Set(Service, user, value) })
}

// del deletes one entry; an entry already gone is not an error.
func (k *keyringStore) del(ctx context.Context, user string) error {
	err := k.call(ctx, func() error { return k.b.Delete(Service, user) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

func partKey(server string, i int) string { return server + "#" + strconv.Itoa(i) }

// checkServer keeps part keys unambiguous: a normalised server URL has no fragment, so no "#".
func checkServer(server string) error {
	if server == "" || strings.Contains(server, "#") {
		return fmt.Errorf("keyring entry name %q: want a normalised server URL", server)
	}
	return nil
}

func (k *keyringStore) Load(ctx context.Context, server string) (Session, error) {
	if err := checkServer(server); err != nil {
		return Session{}, err
	}
	v, err := k.get(ctx, server)
	if errors.Is(err, keyring.ErrNotFound) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, keyringErr("read", err)
	}
	if n, ok := chunkCount(v); ok {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			part, err := k.get(ctx, partKey(server, i))
			if errors.Is(err, keyring.ErrNotFound) {
				// A header without its parts is damage, not a missing session.
				return Session{}, fmt.Errorf("the keyring entry for %s is incomplete (part %d of %d missing); run `authctl logout` and log in again", server, i, n)
			}
			if err != nil {
				return Session{}, keyringErr("read", err)
			}
			b.WriteString(part)
		}
		v = b.String()
	}
	var s Session
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Session{}, fmt.Errorf("the keyring entry for %s is corrupt: %v", server, err)
	}
	return s, nil
}

// chunkCount reads a header value; a session's JSON starts with "{" and is never one.
func chunkCount(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, chunkHeader)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0 && n <= maxParts
}

// parts is how many parts the stored entry has (0 when unsplit or absent).
func (k *keyringStore) parts(ctx context.Context, server string) (int, error) {
	v, err := k.get(ctx, server)
	if errors.Is(err, keyring.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, _ := chunkCount(v)
	return n, nil
}

func (k *keyringStore) Save(ctx context.Context, s Session) error {
	if err := checkServer(s.Server); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode the session: %w", err)
	}
	// Reading the old part count first is what lets a shrinking save remove stale parts;
	// a keyring that cannot tell us would leave orphans, so fail instead.
	old, err := k.parts(ctx, s.Server)
	if err != nil {
		return keyringErr("read", err)
	}
	var n int
	for size := ChunkSize; ; size /= 2 {
		n, err = k.write(ctx, s.Server, string(data), size)
		if !errors.Is(err, keyring.ErrSetDataTooBig) || size/2 < minChunkSize {
			break
		}
	}
	if err != nil {
		return keyringErr("write", err)
	}
	for i := max(n, 0) + 1; i <= old; i++ {
		if err := k.del(ctx, partKey(s.Server, i)); err != nil {
			return keyringErr("delete a stale part in", err)
		}
	}
	return nil
}

// write stores v whole when it fits in size bytes and as parts plus a header otherwise,
// returning the number of parts. Parts go first so that the header never names a part that
// is not there yet.
func (k *keyringStore) write(ctx context.Context, server, v string, size int) (int, error) {
	if len(v) <= size {
		return 0, k.set(ctx, server, v)
	}
	parts := split(v, size)
	if len(parts) > maxParts {
		return 0, fmt.Errorf("the session needs %d keyring entries (at most %d): %w", len(parts), maxParts, keyring.ErrSetDataTooBig)
	}
	for i, p := range parts {
		if err := k.set(ctx, partKey(server, i+1), p); err != nil {
			return 0, err
		}
	}
	return len(parts), k.set(ctx, server, chunkHeader+strconv.Itoa(len(parts)))
}

// split cuts v into pieces of at most size bytes, only between runes: some keyrings store
// text, and half a UTF-8 sequence is not text.
func split(v string, size int) []string {
	var parts []string
	for len(v) > 0 {
		end := min(size, len(v))
		for end < len(v) && end > 0 && !utf8.RuneStart(v[end]) {
			end--
		}
		if end == 0 { // size smaller than one rune; cannot happen with minChunkSize
			end = min(size, len(v))
		}
		parts = append(parts, v[:end])
		v = v[end:]
	}
	return parts
}

// Delete removes the parts before the header: a failure half-way leaves a header whose Load
// reports damage and whose next Delete finishes the job, never parts nothing points to.
func (k *keyringStore) Delete(ctx context.Context, server string) error {
	if err := checkServer(server); err != nil {
		return err
	}
	n, err := k.parts(ctx, server)
	if err != nil {
		return keyringErr("read", err)
	}
	for i := 1; i <= n; i++ {
		if err := k.del(ctx, partKey(server, i)); err != nil {
			return keyringErr("delete from", err)
		}
	}
	if err := k.del(ctx, server); err != nil {
		return keyringErr("delete from", err)
	}
	return nil
}

func keyringErr(op string, err error) error {
	if unusable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // says what is wrong and what to do already
	}
	return fmt.Errorf("%s the OS keyring: %w (try --keystore file)", op, err)
}

// unusable says whether err means the keyring as a whole cannot be used (rather than one
// entry being missing or damaged).
func unusable(err error) bool {
	return errors.Is(err, ErrNoKeyring) || errors.Is(err, ErrKeyringLocked) || errors.Is(err, ErrKeyringTimeout)
}
