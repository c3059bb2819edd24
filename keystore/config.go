package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDir is the user config dir's authctl folder.
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config dir: %w", err)
	}
	return filepath.Join(d, "authctl"), nil
}

// NormalizeServer gives one spelling per server, since the spelling is the keyring entry's
// name: lower-case scheme and host, no default port, the path without a trailing slash.
// User info, a query and a fragment are refused: the first would put a password in an entry
// name, the others mean the URL is not a base URL.
func NormalizeServer(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if strings.ContainsAny(raw, "?#") {
		return "", fmt.Errorf("server URL %q: a query or fragment is not allowed", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server URL %q: want http:// or https://", raw)
	}
	if u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("server URL %q: want scheme://host[:port][/path]", raw)
	}
	// Work on u.Host as a whole: rebuilding it from Hostname and Port would drop the
	// brackets of an IPv6 literal.
	host := strings.ToLower(u.Host)
	host = strings.TrimSuffix(host, ":")
	if u.Scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	base := url.URL{Scheme: u.Scheme, Host: host} // String escapes what the host needs
	return base.String() + strings.TrimRight(u.EscapedPath(), "/"), nil
}

type config struct {
	LastServer string `json:"last_server,omitempty"`
}

func configPath(dir string) string { return filepath.Join(dir, "config.json") }

// LastServer returns the server last logged in to ("" when none).
func LastServer(dir string) (string, error) {
	data, err := os.ReadFile(configPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the config: %w", err)
	}
	var c config
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("the config file %s is corrupt: %v", configPath(dir), err)
	}
	return c.LastServer, nil
}

// SetLastServer remembers the server last logged in to. It is not a secret, but the file
// shares the session file's 0700 directory and atomic write.
func SetLastServer(dir, server string) error {
	defer lockPath(configPath(dir))()
	if err := writeFileAtomic(configPath(dir), config{LastServer: server}); err != nil {
		return fmt.Errorf("write the config: %w", err)
	}
	return nil
}
