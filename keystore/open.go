package keystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// Options for Open.
type Options struct {
	Mode        string              // "auto" (when empty), "keyring" or "file"
	Dir         string              // config dir for the file store; "" → DefaultDir()
	Interactive bool                // a terminal: allow a longer keyring timeout (an unlock prompt may show)
	Warn        io.Writer           // where auto's fallback warning goes; nil → io.Discard
	Getenv      func(string) string // nil → os.Getenv
}

// Keyring timeouts: a script must not hang on a locked keyring; a person may be typing the
// unlock password.
const (
	ScriptTimeout      = 3 * time.Second
	InteractiveTimeout = 30 * time.Second
)

// probeKey is looked up to learn whether the keyring answers. Real entries are named by
// server URLs, so it never names one.
const probeKey = "authctl-probe"

// Open returns the store for o.Mode. It does not touch the keyring: auto decides on first use.
func Open(o Options) (Store, error) {
	switch o.Mode {
	case "", "auto", "keyring", "file":
	default:
		return nil, fmt.Errorf("unknown keystore %q: use auto, keyring or file", o.Mode)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Warn == nil {
		o.Warn = io.Discard
	}
	if o.Dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	timeout := ScriptTimeout
	if o.Interactive {
		timeout = InteractiveTimeout
	}
	file := &fileStore{dir: o.Dir}
	kr := &keyringStore{b: osKeyring{}, timeout: timeout, getenv: o.Getenv}
	switch o.Mode {
	case "file":
		return file, nil
	case "keyring":
		return kr, nil
	}
	return &auto{keyring: kr, file: file, warn: o.Warn, from: map[string]source{}}, nil
}

// Locator is a store that can say where it found a server's session, and why there.
type Locator interface {
	Where(server string) string
}

// Where says where st keeps server's session: the store's name, with the reason when auto
// found it in the file.
func Where(st Store, server string) string {
	if l, ok := st.(Locator); ok {
		return l.Where(server)
	}
	return st.Name()
}

// Lister is a store that can list the servers it holds sessions for. The file can; a
// keyring cannot be asked, which is why the config also keeps the servers logged in to.
type Lister interface {
	Servers(ctx context.Context) ([]string, error)
}

// Servers lists what the file holds; the keyring's entries are found through the config.
func (a *auto) Servers(ctx context.Context) ([]string, error) { return a.file.Servers(ctx) }

// Migrator is a store that can move a session to where it prefers to keep it.
type Migrator interface {
	// Migrate moves server's session into the preferred store and reports whether
	// anything moved; ErrNotFound when there is no session.
	Migrate(ctx context.Context, server string) (moved bool, err error)
}

// auto keeps sessions in the keyring when it can be used and in the file otherwise.
//
// It reads both: a session saved in the file while the keyring could not be used must not
// vanish once the keyring is back, and one in the keyring must not be silently replaced by
// another found in the file while the keyring is locked. So Load takes the newer of the two
// when both answer, uses the file's with a warning when the keyring is locked or silent
// (and fails when the file has none, as the keyring may hold it), and remembers where each
// session came from: its successor (a refresh) is saved back there, and Where says it.
// Moving a session from the file into the keyring is left to Migrate, on request.
type auto struct {
	keyring *keyringStore
	file    *fileStore
	warn    io.Writer

	mu     sync.Mutex // held across the probe, so that concurrent first calls probe once
	probed bool
	down   error             // why the keyring cannot be used; nil when it can
	from   map[string]source // where each server's session was loaded or saved in this process
	told   bool              // the "keyring unusable, using the file's session" warning was given
}

// source is where a session was found.
type source struct {
	st    Store
	other bool // the other store holds an older session for the server too
}

// probe learns once per process whether the keyring can be used.
func (a *auto) probe(ctx context.Context) (down error, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.probed {
		return a.down, nil
	}
	_, err = a.keyring.get(ctx, probeKey)
	switch {
	case err == nil || errors.Is(err, keyring.ErrNotFound):
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the keyring.
		return nil, ctx.Err()
	default:
		a.down = err
	}
	a.probed = true
	return a.down, nil
}

func (a *auto) remember(server string, st Store, other bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st == nil {
		delete(a.from, server)
		return
	}
	a.from[server] = source{st: st, other: other}
}

func (a *auto) source(server string) source {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.from[server]
}

func (a *auto) Name() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case !a.probed:
		return "auto (" + a.keyring.Name() + ", else " + a.file.Name() + ")"
	case a.down == nil:
		return a.keyring.Name()
	}
	return a.file.Name()
}

// Where names the store holding server's session, and why the file when it is the file.
func (a *auto) Where(server string) string {
	src := a.source(server)
	a.mu.Lock()
	down := a.down
	a.mu.Unlock()
	switch {
	case src.st == nil:
		return a.Name()
	case src.st == Store(a.keyring) && src.other:
		return a.keyring.Name() + "; an older session for it is in " + a.file.Name() + " too"
	case src.st == Store(a.keyring):
		return a.keyring.Name()
	case down == nil && src.other:
		return a.file.Name() + "; newer than the session in the keyring (`authctl refresh --migrate` moves it there)"
	case down == nil:
		return a.file.Name() + "; not in the keyring (`authctl refresh --migrate` moves it there)"
	}
	return a.file.Name() + "; " + reasonOf(down)
}

// loadFile reads server's session from the file without creating the file.
func (a *auto) loadFile(ctx context.Context, server string) (Session, error) {
	if !a.file.has() {
		return Session{}, ErrNotFound
	}
	return a.file.Load(ctx, server)
}

func (a *auto) Load(ctx context.Context, server string) (Session, error) {
	down, err := a.probe(ctx)
	if err != nil {
		return Session{}, err
	}
	if down == nil {
		ks, kerr := a.keyring.Load(ctx, server)
		if kerr != nil && !errors.Is(kerr, ErrNotFound) {
			return Session{}, kerr
		}
		fs, ferr := a.loadFile(ctx, server)
		if ferr != nil && !errors.Is(ferr, ErrNotFound) {
			return Session{}, ferr
		}
		both := kerr == nil && ferr == nil
		switch {
		case kerr == nil && (ferr != nil || !newer(fs, ks)):
			a.remember(server, a.keyring, both)
			return ks, nil
		case ferr == nil:
			a.remember(server, a.file, both)
			return fs, nil
		}
		return Session{}, ErrNotFound
	}

	fs, ferr := a.loadFile(ctx, server)
	switch {
	case errors.Is(ferr, ErrNotFound) && errors.Is(down, ErrNoKeyring):
		return Session{}, ErrNotFound // there is no keyring that could hold one
	case errors.Is(ferr, ErrNotFound):
		// The keyring is there but cannot be read: it may hold the session, so "not
		// logged in" would be a guess.
		return Session{}, down
	case ferr != nil:
		return Session{}, ferr
	}
	a.remember(server, a.file, false)
	if !errors.Is(down, ErrNoKeyring) {
		a.mu.Lock()
		if !a.told {
			a.told = true
			fmt.Fprintf(a.warn, "authctl: warning: %s; using the session for %s stored in %s\n", reasonOf(down), server, a.file.path())
		}
		a.mu.Unlock()
	}
	return fs, nil
}

// newer says whether a was saved after b: each save (login or refresh) carries a fresh
// access token, so the later access expiry is the later save.
func newer(a, b Session) bool { return a.AccessExpiry.After(b.AccessExpiry) }

// Save writes s where the session it succeeds came from; a new session (a login) goes to
// the keyring, or to the file with one warning — before the file is written — when the
// keyring cannot be used. A refresh of a session kept in the file therefore never warns
// again: one warning per session, not one per refresh.
func (a *auto) Save(ctx context.Context, s Session) error {
	down, err := a.probe(ctx)
	if err != nil {
		return err
	}
	src := a.source(s.Server)
	dest := src.st
	if dest == nil {
		dest = a.keyring
		if down != nil {
			dest = a.file
			fmt.Fprintf(a.warn, "authctl: warning: %s; storing the session in %s (0600)\n", reasonOf(down), a.file.path())
		}
	}
	if err := dest.Save(ctx, s); err != nil {
		return err
	}
	a.remember(s.Server, dest, src.other)
	return nil
}

// Delete removes server's session from both stores: logging out must not leave a refresh
// token in the file, nor one in the keyring. When the keyring cannot be read and the file
// had nothing to delete, the keyring's error is returned, as the session may be there.
func (a *auto) Delete(ctx context.Context, server string) error {
	down, err := a.probe(ctx)
	if err != nil {
		return err
	}
	a.remember(server, nil, false)
	var errs []error
	if down == nil {
		errs = append(errs, a.keyring.Delete(ctx, server))
	}
	if _, ferr := a.loadFile(ctx, server); ferr == nil {
		errs = append(errs, a.file.Delete(ctx, server))
	} else if down != nil && !errors.Is(down, ErrNoKeyring) {
		errs = append(errs, down)
	}
	return errors.Join(errs...)
}

// Migrate moves the session in use for server from the file into the keyring, and drops
// a stale copy left in the file.
func (a *auto) Migrate(ctx context.Context, server string) (bool, error) {
	down, err := a.probe(ctx)
	if err != nil {
		return false, err
	}
	if down != nil {
		return false, fmt.Errorf("cannot move the session into the keyring: %w", down)
	}
	s, err := a.Load(ctx, server)
	if err != nil {
		return false, err
	}
	moved := false
	if a.source(server).st == Store(a.file) {
		if err := a.keyring.Save(ctx, s); err != nil {
			return false, err
		}
		moved = true
	}
	a.remember(server, a.keyring, false)
	if _, err := a.loadFile(ctx, server); err == nil {
		if err := a.file.Delete(ctx, server); err != nil {
			return moved, err
		}
	}
	return moved, nil
}
