package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// fileStore keeps every server's session in one JSON file, 0600 in a 0700 directory,
// replaced atomically on each write.
type fileStore struct {
	dir string
}

// NewFile returns a store keeping sessions in dir/sessions.json.
func NewFile(dir string) Store { return &fileStore{dir: dir} }

func (f *fileStore) path() string { return filepath.Join(f.dir, "sessions.json") }

func (f *fileStore) Name() string { return "file " + f.path() }

// pathLocks serialises read-modify-write cycles on one file across every store in the
// process (two stores may name the same dir). Other processes coordinate through the
// client's lock file.
var pathLocks sync.Map // cleaned path → *sync.Mutex

func lockPath(path string) func() {
	m, _ := pathLocks.LoadOrStore(filepath.Clean(path), new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (f *fileStore) read() (map[string]Session, error) {
	data, err := os.ReadFile(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Session{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the session file: %w", err)
	}
	m := map[string]Session{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("the session file %s is corrupt (%v); delete it and log in again", f.path(), err)
	}
	return m, nil
}

func (f *fileStore) write(m map[string]Session) error {
	if err := writeFileAtomic(f.path(), m); err != nil {
		return fmt.Errorf("write the session file: %w", err)
	}
	return nil
}

// writeFileAtomic writes v as JSON to path through a 0600 temp file in the same directory,
// fsynced and renamed over path, so that a crash leaves the old file or the new one. The
// directory is created 0700, and put back to 0700 if someone loosened it.
func writeFileAtomic(path string, v any) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is durable only once the directory entry is on disk; not every platform
	// can fsync a directory, and the data is already safe, so a failure here is ignored.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (f *fileStore) Load(_ context.Context, server string) (Session, error) {
	defer lockPath(f.path())()
	m, err := f.read()
	if err != nil {
		return Session{}, err
	}
	s, ok := m[server]
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func (f *fileStore) Save(_ context.Context, s Session) error {
	defer lockPath(f.path())()
	m, err := f.read()
	if err != nil {
		return err
	}
	m[s.Server] = s
	return f.write(m)
}

func (f *fileStore) Delete(_ context.Context, server string) error {
	defer lockPath(f.path())()
	m, err := f.read()
	if err != nil {
		return err
	}
	if _, ok := m[server]; !ok {
		return nil
	}
	delete(m, server)
	return f.write(m)
}

// has reports whether the file exists, without reading it.
func (f *fileStore) has() bool {
	_, err := os.Stat(f.path())
	return err == nil
}

// Servers lists the servers the file holds sessions for, sorted.
func (f *fileStore) Servers(context.Context) ([]string, error) {
	if !f.has() {
		return nil, nil
	}
	defer lockPath(f.path())()
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out, nil
}
