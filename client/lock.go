package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// One refresh, login or logout at a time per server: within the process through the
// refreshing channel, across the user's authctl processes through a file lock.

// enter takes this process's turn; waiting for it honours ctx.
func (c *Client) enter(ctx context.Context) error {
	select {
	case c.refreshing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave ends the turn enter took.
func (c *Client) leave() { <-c.refreshing }

// exclusive holds both the in-process turn and the file lock.
func (c *Client) exclusive(ctx context.Context) (release func(), err error) {
	if err := c.enter(ctx); err != nil {
		return nil, err
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		c.leave()
		return nil, err
	}
	return func() { unlock(); c.leave() }, nil
}

// LockPath is the refresh lock file for server (normalised) in dir.
func LockPath(dir, server string) string {
	sum := sha256.Sum256([]byte(server))
	return filepath.Join(dir, hex.EncodeToString(sum[:])+".lock")
}

// lock takes the per-server refresh lock shared by every authctl process of the user,
// waiting at most the lock wait.
func (c *Client) lock(ctx context.Context) (unlock func(), err error) {
	dir := c.lockDir
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("find the lock dir: %w", err)
		}
		dir = filepath.Join(d, "authctl", "locks")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the lock dir: %w", err)
	}
	path := LockPath(dir, c.base)
	fl := flock.New(path, flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, c.lockWait)
	defer cancel()
	ok, err := fl.TryLockContext(lctx, 10*time.Millisecond)
	if ok {
		return func() { _ = fl.Unlock() }, nil
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("another authctl process held the refresh lock %s for over %s", path, c.lockWait)
	}
	return nil, fmt.Errorf("take the refresh lock %s: %w", path, err)
}

// Locked runs fn holding the per-server lock that refreshes, logins and logouts take, so
// that fn can move or rewrite the stored session (`authctl refresh --migrate`) without
// racing a refresh in this or another process.
func (c *Client) Locked(ctx context.Context, fn func(context.Context) error) error {
	release, err := c.exclusive(ctx)
	if err != nil {
		return err
	}
	defer release()
	return fn(ctx)
}
