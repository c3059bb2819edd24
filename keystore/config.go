package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	// Servers lists every server logged in to and not logged out of since, for
	// `authctl status --all`: a keyring cannot be asked which entries it holds.
	Servers []string `json:"servers,omitempty"`
}

func configPath(dir string) string { return filepath.Join(dir, "config.json") }

func readConfig(dir string) (config, error) {
	var c config
	data, err := os.ReadFile(configPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read the config: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("the config file %s is corrupt: %v", configPath(dir), err)
	}
	return c, nil
}

// updateConfig applies fn to the config and writes it back. It is not a secret, but the
// file shares the session file's 0700 directory and atomic write.
func updateConfig(dir string, fn func(*config)) error {
	defer lockPath(configPath(dir))()
	c, err := readConfig(dir)
	if err != nil {
		return err
	}
	fn(&c)
	if err := writeFileAtomic(configPath(dir), c); err != nil {
		return fmt.Errorf("write the config: %w", err)
	}
	return nil
}

// LastServer returns the server last logged in to or switched to ("" when none).
func LastServer(dir string) (string, error) {
	c, err := readConfig(dir)
	return c.LastServer, err
}

// SetLastServer makes server the default, and lists it among the known servers.
func SetLastServer(dir, server string) error {
	return updateConfig(dir, func(c *config) {
		c.LastServer = server
		if !slices.Contains(c.Servers, server) {
			c.Servers = append(c.Servers, server)
			slices.Sort(c.Servers)
		}
	})
}

// ForgetServer removes server from the known servers (after a logout). It stays the
// default if it was: the next `authctl login` goes there again.
func ForgetServer(dir, server string) error {
	return updateConfig(dir, func(c *config) {
		c.Servers = slices.DeleteFunc(c.Servers, func(s string) bool { return s == server })
	})
}

// KnownServers lists the servers a session may be stored for: those logged in to and not
// logged out of, and the default one, sorted.
func KnownServers(dir string) ([]string, error) {
	c, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(c.Servers)
	if c.LastServer != "" && !slices.Contains(out, c.LastServer) {
		out = append(out, c.LastServer)
	}
	slices.Sort(out)
	return out, nil
}
