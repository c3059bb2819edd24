package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// fileStore keeps every server's session in one JSON file, 0600 in a 0700 directory,
// replaced atomically on each write.
type fileStore struct {
	dir string
	mu  sync.Mutex
}

// NewFile returns a store keeping sessions in dir/sessions.json.
func NewFile(dir string) Store { return &fileStore{dir: dir} }

func (f *fileStore) path() string { return filepath.Join(f.dir, "sessions.json") }

func (f *fileStore) Name() string { return "file " + f.path() }

func (f *fileStore) read() (map[string]Session, error) {
	data, err := os.ReadFile(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Session{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path(), err)
	}
	m := map[string]Session{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v); delete it and log in again", f.path(), err)
	}
	return m, nil
}

func (f *fileStore) write(m map[string]Session) error {
	if err := writeFileAtomic(f.dir, f.path(), m); err != nil {
		return fmt.Errorf("write %s: %w", f.path(), err)
	}
	return nil
}

// writeFileAtomic writes v as JSON to path through a 0600 temp file in dir, fsynced and
// renamed over path.
func writeFileAtomic(dir, path string, v any) error {
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
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
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
	return os.Rename(tmp.Name(), path)
}

func (f *fileStore) Load(_ context.Context, server string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.read()
	if err != nil {
		return err
	}
	m[s.Server] = s
	return f.write(m)
}

func (f *fileStore) Delete(_ context.Context, server string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// memory is a Store in memory, for tests of other packages.
type memory struct {
	mu sync.Mutex
	m  map[string]Session
}

// NewMemory returns an empty in-memory Store.
func NewMemory() Store { return &memory{m: map[string]Session{}} }

func (m *memory) Name() string { return "memory" }

func (m *memory) Load(_ context.Context, server string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[server]
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

func (m *memory) Save(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[s.Server] = s
	return nil
}

func (m *memory) Delete(_ context.Context, server string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, server)
	return nil
}
