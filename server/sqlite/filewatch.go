package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"github.com/authctl/authctl/server"
)

// fileWatch notices that the database file was deleted, moved away or replaced while the
// store has it open. SQLite goes on reading and writing the file it opened, which no longer
// has the name: every write would then be lost at the next start, when the path is opened
// afresh (or, deleted, created empty, with a new admin). So writes stop (503) and the
// readiness probe fails until someone puts the file back or restarts the server.
type fileWatch struct {
	path   string
	opened os.FileInfo // the file as Open found it

	okUntil atomic.Int64 // unix nanoseconds until which the last good check stands
}

// checkEvery is how long a good check stands for the write guard: a stat per write would
// cost a system call on every refresh, and a write that slips through in the second after a
// deletion is lost either way.
const checkEvery = time.Second

// guard is the store's WriteGuard: check, but at most once per checkEvery while it passes.
func (w *fileWatch) guard() error {
	if time.Now().UnixNano() < w.okUntil.Load() {
		return nil
	}
	return w.check()
}

// check compares the file at the path with the one opened. A failure also ends the good
// check the guard relies on, so that writes stop as soon as anyone noticed.
func (w *fileWatch) check() error {
	now := time.Now()
	err := w.compare()
	if err != nil {
		w.okUntil.Store(0)
		return err
	}
	w.okUntil.Store(now.Add(checkEvery).UnixNano())
	return nil
}

func (w *fileWatch) compare() error {
	cur, err := os.Stat(w.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: database file %s is gone (deleted or moved while the server runs); writes are refused because they would be lost: put the file back, or restore a backup there, and restart the server",
			server.ErrUnavailable, w.path)
	case err != nil:
		return fmt.Errorf("%w: database file %s: %w", server.ErrUnavailable, w.path, err)
	case !os.SameFile(w.opened, cur):
		return fmt.Errorf("%w: database file %s was replaced by another file while the server runs; writes are refused because they would go to the old file: restart the server to use the new one",
			server.ErrUnavailable, w.path)
	}
	return nil
}
