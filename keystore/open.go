package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// Options for Open.
type Options struct {
	Mode        string              // "auto" (when empty), "keyring" or "file"
	Dir         string              // config dir for the file store; "" → DefaultDir()
	Interactive bool                // a terminal: allow a longer keyring timeout (an unlock prompt may show)
	Warn        io.Writer           // where auto's fallback warning goes
	Getenv      func(string) string // nil → os.Getenv
}

// Keyring timeouts: a script must not hang on a locked keyring; a person may be typing the
// unlock password.
const (
	ScriptTimeout      = 3 * time.Second
	InteractiveTimeout = 30 * time.Second
)

// Open returns the store for o.Mode.
func Open(o Options) (Store, error) {
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
	switch o.Mode {
	case "file":
		return NewFile(o.Dir), nil
	case "keyring":
		return NewKeyring(timeout), nil
	case "", "auto":
		a := &auto{file: NewFile(o.Dir), warn: o.Warn}
		if noSessionBus(o.Getenv) {
			a.decided, a.use, a.why = true, a.file, "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)"
		} else {
			a.keyring = &keyringStore{b: osKeyring{}, timeout: timeout}
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown keystore %q: use auto, keyring or file", o.Mode)
}

// noSessionBus: on Linux and the BSDs the Secret Service is reached over the session bus;
// without its address there is no keyring to try.
func noSessionBus(getenv func(string) string) bool {
	switch runtime.GOOS {
	case "darwin", "windows", "ios", "android":
		return false
	}
	return getenv("DBUS_SESSION_BUS_ADDRESS") == ""
}

// auto uses the keyring when it answers and the file otherwise, warning once before the
// file is first written.
type auto struct {
	keyring *keyringStore
	file    Store
	warn    io.Writer

	mu      sync.Mutex
	decided bool
	use     Store
	why     string
	warned  bool
}

func (a *auto) pick(ctx context.Context) Store {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.decided {
		a.decided = true
		_, err := a.keyring.get(ctx, "authctl-probe")
		if err == nil || errors.Is(err, keyring.ErrNotFound) {
			a.use = a.keyring
		} else {
			a.use, a.why = a.file, err.Error()
		}
	}
	return a.use
}

func (a *auto) Name() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.use == nil {
		return "auto (keyring, else " + a.file.Name() + ")"
	}
	return a.use.Name()
}

func (a *auto) Load(ctx context.Context, server string) (Session, error) {
	return a.pick(ctx).Load(ctx, server)
}

func (a *auto) Save(ctx context.Context, s Session) error {
	st := a.pick(ctx)
	if st == a.file {
		a.mu.Lock()
		if !a.warned {
			a.warned = true
			fmt.Fprintf(a.warn, "authctl: warning: no OS keyring reachable (%s); storing the session in %s (0600)\n",
				a.why, strings.TrimPrefix(a.file.Name(), "file "))
		}
		a.mu.Unlock()
	}
	return st.Save(ctx, s)
}

func (a *auto) Delete(ctx context.Context, server string) error {
	return a.pick(ctx).Delete(ctx, server)
}

// DefaultDir is the user config dir's authctl folder.
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config dir: %w", err)
	}
	return filepath.Join(d, "authctl"), nil
}

// NormalizeServer gives one spelling per server: lower-case scheme and host, no default port,
// no trailing slash.
func NormalizeServer(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server URL %q: want http:// or https://", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("server URL %q: want scheme://host[:port][/path]", raw)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

type config struct {
	LastServer string `json:"last_server,omitempty"`
}

// LastServer returns the server last logged in to ("" when none).
func LastServer(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("%s is corrupt: %v", filepath.Join(dir, "config.json"), err)
	}
	return c.LastServer, nil
}

// SetLastServer remembers the server last logged in to (not a secret).
func SetLastServer(dir, server string) error {
	return writeFileAtomic(dir, filepath.Join(dir, "config.json"), config{LastServer: server})
}
