package storetest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a database server for fault tests. Stall makes it stop
// forwarding in both directions without closing anything, as a database server that hangs
// (stopped, swapping, behind a network that drops packets) does: connections stay open, new
// ones are accepted, and nothing answers. A refused or reset connection, by contrast, fails
// fast and tests nothing about timeouts.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{}

	mu    sync.Mutex
	open  chan struct{} // closed while forwarding; a stall replaces it with one that blocks
	conns []net.Conn
}

// NewProxy listens on a loopback port and forwards every connection to target (host:port)
// until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{}), open: make(chan struct{})}
	close(p.open)
	t.Cleanup(p.close)
	go p.accept()
	return p
}

// Addr is the proxy's host:port, to put in the database URL instead of the server's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding: bytes already sent and any sent later wait in the proxy.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default: // stalled already
	}
}

// Resume forwards again, what waited first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *Proxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies src to dst, each chunk only once the proxy forwards.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-p.gate():
			case <-p.done:
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	close(p.done)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
