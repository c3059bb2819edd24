package keystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
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
	switch o.Mode {
	case "file":
		return file, nil
	case "keyring":
		return NewKeyring(timeout), nil
	}
	a := &auto{keyring: &keyringStore{b: osKeyring{}, timeout: timeout}, file: file, warn: o.Warn}
	if noSessionBus(o.Getenv) {
		a.use, a.why = file, "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset"
	}
	return a, nil
}

// noSessionBus: on Linux and the BSDs the Secret Service is reached over the session bus;
// without its address there is no keyring to try, and trying would only cost the timeout.
func noSessionBus(getenv func(string) string) bool {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "android", "plan9", "js", "wasip1":
		return false
	}
	return getenv("DBUS_SESSION_BUS_ADDRESS") == ""
}

// auto uses the keyring when it answers and the file otherwise, warning once before the
// file is first written.
type auto struct {
	keyring *keyringStore
	file    *fileStore
	warn    io.Writer

	mu     sync.Mutex // held across the probe, so that concurrent first calls probe once
	use    Store      // nil until decided
	why    string     // why the file is used
	warned bool
}

func (a *auto) pick(ctx context.Context) (Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.use != nil {
		return a.use, nil
	}
	_, err := a.keyring.get(ctx, probeKey)
	switch {
	case err == nil || errors.Is(err, keyring.ErrNotFound):
		a.use = a.keyring
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the keyring.
		return nil, ctx.Err()
	case errors.Is(err, ErrKeyringTimeout):
		a.use, a.why = a.file, fmt.Sprintf("it did not answer within %v", a.keyring.timeout)
	default:
		a.use, a.why = a.file, err.Error()
	}
	return a.use, nil
}

func (a *auto) Name() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.use == nil {
		return "auto (" + a.keyring.Name() + ", else " + a.file.Name() + ")"
	}
	return a.use.Name()
}

func (a *auto) Load(ctx context.Context, server string) (Session, error) {
	st, err := a.pick(ctx)
	if err != nil {
		return Session{}, err
	}
	return st.Load(ctx, server)
}

func (a *auto) Save(ctx context.Context, s Session) error {
	st, err := a.pick(ctx)
	if err != nil {
		return err
	}
	if st == Store(a.file) {
		a.mu.Lock()
		if !a.warned {
			a.warned = true
			fmt.Fprintf(a.warn, "authctl: warning: no OS keyring reachable (%s); storing the session in %s (0600)\n", a.why, a.file.path())
		}
		a.mu.Unlock()
	}
	return st.Save(ctx, s)
}

// Delete also clears a copy in the file left by an earlier fallback (a run without a session
// bus): logging out must not leave a refresh token on disk.
func (a *auto) Delete(ctx context.Context, server string) error {
	st, err := a.pick(ctx)
	if err != nil {
		return err
	}
	err = st.Delete(ctx, server)
	if st != Store(a.file) && a.file.has() {
		err = errors.Join(err, a.file.Delete(ctx, server))
	}
	return err
}
