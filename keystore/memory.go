package keystore

import (
	"context"
	"sync"
)

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
