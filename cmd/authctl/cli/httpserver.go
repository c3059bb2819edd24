package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

// The HTTP edge of `authctl serve`: connection cap, timeouts, graceful drain (README
// "Configuration").
//
// How the cap and the timeouts work together: every accepted connection holds a slot until
// it is closed, and at the cap the listener stops accepting, so newcomers wait in the
// kernel's accept queue instead of exhausting descriptors. What keeps a flood of idle or
// slow connections from holding the slots for good is readHeaderTimeout: a connection that
// has not sent a whole request header within it is closed, so under a flood of idle
// connections a slot comes free every readHeaderTimeout at the latest, and a good client
// waits at most about that long — not at all while the cap is above the flood, which is why
// the default is generous. Between requests, idleTimeout closes keep-alive connections far
// sooner than net/http's default of none.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 30 * time.Second
	maxHeaderBytes    = 64 << 10

	// defaultMaxConns is --max-conns when the open-file limit allows it: at about 20 KiB
	// of buffers and goroutine stack per idle connection, 4096 cost some 80 MiB at most.
	defaultMaxConns = 4096
	// fdReserve is kept out of the connection budget for the database (SQLite's files,
	// a PostgreSQL pool), the log, TLS files and the metrics listener.
	fdReserve = 256

	// drainGrace is how long, after SIGTERM, the server goes on accepting and answering
	// (with Connection: close) before it stops listening: requests already on their way
	// — queued in the accept backlog, or just written on an idle keep-alive connection —
	// are answered instead of reset. Load balancers also need a moment to notice.
	drainGrace = time.Second
)

// autoMaxConns is the default --max-conns for an open-file soft limit of nofile (0: unknown).
func autoMaxConns(nofile uint64) int {
	switch {
	case nofile == 0:
		return defaultMaxConns
	case nofile <= 2*fdReserve:
		return max(int(nofile/2), 16)
	default:
		return int(min(uint64(defaultMaxConns), nofile-fdReserve))
	}
}

// connBudget raises the open-file limit and decides the connection cap: --max-conns when
// given (with a warning when the descriptors cannot cover it), else autoMaxConns.
func connBudget(flag int, log *slog.Logger) int {
	nofile, err := raiseOpenFileLimit()
	if err != nil {
		log.Debug("could not raise the open-file limit", "err", err, "nofile", nofile)
	}
	if flag <= 0 {
		n := autoMaxConns(nofile)
		if n < defaultMaxConns {
			log.Warn("the open-file limit leaves room for few connections; raise the hard limit (ulimit -Hn, LimitNOFILE=)",
				"nofile", nofile, "max_conns", n)
		} else {
			log.Debug("connection cap", "max_conns", n, "nofile", nofile)
		}
		return n
	}
	if nofile != 0 && uint64(flag)+fdReserve > nofile {
		log.Warn("--max-conns exceeds what the open-file limit leaves for connections; raise `ulimit -n` (LimitNOFILE=) or lower --max-conns",
			"max_conns", flag, "nofile", nofile)
	}
	return flag
}

// limitListener caps the connections served at once at n (see the top of this file).
func limitListener(ln net.Listener, n int) net.Listener { return netutil.LimitListener(ln, n) }

// newHTTPServer is the http.Server with the timeouts described above, its handler wrapped
// by d so that it can drain.
func newHTTPServer(h http.Handler, d *drainer, log *slog.Logger) *http.Server {
	d.next = h
	return &http.Server{
		Handler:           d,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// drainer counts requests in flight and, once draining, asks every client to close its
// connection after the answer. It does so with a Connection: close header rather than
// http.Server.SetKeepAlivesEnabled(false), which would also close every idle keep-alive
// connection at once — resetting any request a client had just written on one.
type drainer struct {
	next     http.Handler
	draining atomic.Bool
	inFlight atomic.Int64
	answered atomic.Int64 // requests that ended after draining began
}

func (d *drainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.inFlight.Add(1)
	defer func() {
		d.inFlight.Add(-1)
		if d.draining.Load() {
			d.answered.Add(1)
		}
	}()
	if d.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	d.next.ServeHTTP(w, r)
}

// drain shuts srv down gracefully within timeout: answer with Connection: close for
// drainGrace while still accepting, then stop listening, close idle connections and wait
// for the requests in flight (http.Server.Shutdown). Past the timeout the connections left
// are closed; that is the error returned.
func drain(srv *http.Server, d *drainer, timeout time.Duration, log *slog.Logger) error {
	start := time.Now()
	d.draining.Store(true)
	log.Info("draining", "in_flight", d.inFlight.Load(), "timeout", timeout)
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(timeout))
	defer cancel()
	select {
	case <-time.After(min(drainGrace, timeout/2)):
	case <-ctx.Done():
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		cut := d.inFlight.Load()
		srv.Close()
		log.Warn("shutdown timeout: requests still in flight were cut off",
			"answered", d.answered.Load(), "cut_off", cut, "timeout", timeout)
		return err
	}
	log.Info("drained", "answered", d.answered.Load(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkListenAddr refuses a listen address that cannot work (no port, a port out of range)
// while the flags are read, before serve opens the store or creates the admin user.
func checkListenAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("%s %q: want HOST:PORT", flag, addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return usageError("%s %q: port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}

// listen binds addr and reports a failure in one clean line: "listen on 127.0.0.1:5300:
// address already in use", not the net package's "listen tcp 127.0.0.1:5300: bind: …" after
// our own prefix, which said the address twice.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	cause := err
	var op *net.OpError
	if errors.As(err, &op) {
		cause = op.Err
	}
	var sys *os.SyscallError
	if errors.As(cause, &sys) {
		cause = sys.Err
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, cause)
}
