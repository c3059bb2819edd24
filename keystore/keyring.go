package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Service is the keyring service name of every entry.
const Service = "authctl"

// ChunkSize is the largest value stored in one keyring entry. Windows' Credential Manager
// takes 2560 bytes and macOS' Keychain about 3 KB after encoding; one conservative size for
// every platform keeps a session portable.
var ChunkSize = 2000

const chunkHeader = "authctl-chunks:"

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

// keyringStore keeps one logical entry per server in the OS keyring, split into numbered
// parts when the session is larger than ChunkSize.
type keyringStore struct {
	b       backend
	timeout time.Duration
}

// NewKeyring returns a store in the OS keyring whose calls give up after timeout.
func NewKeyring(timeout time.Duration) Store { return &keyringStore{b: osKeyring{}, timeout: timeout} }

func (k *keyringStore) Name() string { return "keyring (service " + Service + ")" }

// ErrKeyringTimeout means the keyring did not answer in time (locked, or no Secret Service).
var ErrKeyringTimeout = errors.New("the OS keyring did not answer (locked or not running); use --keystore file")

// call runs fn under the timeout. go-keyring calls block, so an abandoned call finishes in
// its goroutine and its result is dropped.
func (k *keyringStore) call(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(k.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return ErrKeyringTimeout
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

func partKey(server string, i int) string { return server + "#" + strconv.Itoa(i) }

func (k *keyringStore) Load(ctx context.Context, server string) (Session, error) {
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
			if err != nil {
				return Session{}, keyringErr(fmt.Sprintf("read part %d of", i), err)
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

func chunkCount(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, chunkHeader)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n > 0
}

func (k *keyringStore) Save(ctx context.Context, s Session) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	old := k.parts(ctx, s.Server)
	v := string(data)
	n := 0
	if len(v) > ChunkSize {
		for i := 0; i < len(v); i += ChunkSize {
			n++
			part := v[i:min(i+ChunkSize, len(v))]
			if err := k.call(ctx, func() error { return k.b.Set(Service, partKey(s.Server, n), part) }); err != nil {
				return keyringErr("write", err)
			}
		}
		v = chunkHeader + strconv.Itoa(n)
	}
	if err := k.call(ctx, func() error { return k.b.Set(Service, s.Server, v) }); err != nil {
		return keyringErr("write", err)
	}
	for i := n + 1; i <= old; i++ { // a shorter session leaves no stale parts behind
		k.call(ctx, func() error { return k.b.Delete(Service, partKey(s.Server, i)) })
	}
	return nil
}

// parts is how many parts the stored entry has (0 when unsplit or absent).
func (k *keyringStore) parts(ctx context.Context, server string) int {
	v, err := k.get(ctx, server)
	if err != nil {
		return 0
	}
	n, _ := chunkCount(v)
	return n
}

func (k *keyringStore) Delete(ctx context.Context, server string) error {
	n := k.parts(ctx, server)
	err := k.call(ctx, func() error { return k.b.Delete(Service, server) })
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return keyringErr("delete", err)
	}
	for i := 1; i <= n; i++ {
		k.call(ctx, func() error { return k.b.Delete(Service, partKey(server, i)) })
	}
	return nil
}

func keyringErr(op string, err error) error {
	if errors.Is(err, ErrKeyringTimeout) {
		return err
	}
	return fmt.Errorf("%s the OS keyring: %w (try --keystore file)", op, err)
}
