package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

// NewKeyring returns a store in the OS keyring whose calls give up after timeout.
func NewKeyring(timeout time.Duration) Store { return &keyringStore{b: osKeyring{}, timeout: timeout} }

func (k *keyringStore) Name() string { return "keyring (service " + Service + ")" }

// ErrKeyringTimeout means the keyring did not answer in time (locked, waiting on an unlock
// prompt, or no Secret Service running).
var ErrKeyringTimeout = errors.New("the OS keyring did not answer")

// call runs fn under the timeout. go-keyring calls block and cannot be cancelled, so an
// abandoned call finishes in its goroutine and its result is dropped.
func (k *keyringStore) call(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(k.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w within %v (locked, or not running); try --keystore file", ErrKeyringTimeout, k.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
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
	if errors.Is(err, ErrKeyringTimeout) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s the OS keyring: %w (try --keystore file)", op, err)
}
