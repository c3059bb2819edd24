// Package testkit holds the few helpers that the tests of several packages share: a clock
// a test moves by hand, and a buffer that many goroutines may write to (a Service's log).
// Only tests import it.
package testkit

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a time source that stands still until the test moves it; safe for concurrent
// use. Its Now method is what Config.Now and the clients' WithNow take.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Buffer collects what is written to it, from any number of goroutines: a log destination
// for a Service and its background timers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
