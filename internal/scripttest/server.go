package scripttest

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest/cases"
)

// Kind classifies a Deviation.
type Kind string

// The kinds of deviation.
const (
	KindOffScript   Kind = "OFF-SCRIPT"   // a command that did not match
	KindEarlyTalker Kind = "EARLY-TALKER" // talk during ASSERT_SILENT
	KindForbidden   Kind = "FORBIDDEN"    // a match during ASSERT_NOT
	KindPlaintext   Kind = "PLAINTEXT"    // plaintext where TLS was due
	KindTLS         Kind = "TLS"          // another handshake failure
	KindBareNewline Kind = "BARE-NEWLINE" // bare CR or LF in a line
	KindEOF         Kind = "EOF"          // the client closed too early
	KindTimeout     Kind = "TIMEOUT"      // the client said nothing
	KindIO          Kind = "IO"           // a read or write failed
	KindNotServed   Kind = "NOT-SERVED"   // connections never came
)

// Deviation is one way in which the client strayed from the script.
type Deviation struct {
	Conn int    // connection number, from 1; 0 for the whole server
	Line int    // script line of the step; 0 for the whole server
	Kind Kind   // what went wrong
	Msg  string // what was expected and what came
}

// String reads like "conn 1 line 11: OFF-SCRIPT: expected command
// matching `MAIL FROM:.*`, got `RSET`".
func (d Deviation) String() string {
	if d.Conn == 0 {
		return fmt.Sprintf("server: %s: %s", d.Kind, d.Msg)
	}
	return fmt.Sprintf("conn %d line %d: %s: %s", d.Conn, d.Line, d.Kind,
		d.Msg)
}

// config is what the options set.
type config struct {
	conns      int
	capture    bool
	concurrent bool
	timeout    time.Duration
	waitLimit  time.Duration
}

// Option changes how Start serves a script.
type Option func(*config)

// Conns serves n connections (default 1), each from the top of the
// script; the listener closes after the n-th is accepted.
func Conns(n int) Option { return func(c *config) { c.conns = n } }

// Timeout bounds each step that waits for the client (default 5 s).
func Timeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WaitLimit bounds Wait (default 30 s).
func WaitLimit(d time.Duration) Option {
	return func(c *config) { c.waitLimit = d }
}

// Capture keeps every DATA body for Bodies and RawBodies.
var Capture Option = func(c *config) { c.capture = true }

// Concurrent serves connections at once, as load runs with several
// sessions need. Without it a connection waits, unanswered in the listen
// backlog, until the one before it is done.
var Concurrent Option = func(c *config) { c.concurrent = true }

// Server is a running scripted server on the loopback interface.
type Server struct {
	// Addr is the "127.0.0.1:port" the server listens on.
	Addr string

	script  *Script
	cfg     config
	cert    tls.Certificate
	certPEM []byte
	ln      net.Listener

	done     chan struct{} // closed when serving has ended
	stop     chan struct{} // closed by shutdown
	stopOnce sync.Once

	mu       sync.Mutex
	sessions []*session // in accept order
	devs     []Deviation
}

// Start serves s on 127.0.0.1 and a free port until the connections are
// served or the test ends. Check the outcome with Wait or Check.
func Start(t testing.TB, s *Script, opts ...Option) *Server {
	t.Helper()
	cfg := config{conns: 1, timeout: 5 * time.Second,
		waitLimit: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}

	cert, certPEM, err := serverCert()
	if err != nil {
		t.Fatalf("scripttest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("scripttest: %v", err)
	}

	srv := &Server{Addr: ln.Addr().String(), script: s, cfg: cfg,
		cert: cert, certPEM: certPEM, ln: ln,
		done: make(chan struct{}), stop: make(chan struct{})}
	t.Cleanup(srv.shutdown)
	go srv.serve()
	return srv
}

// StartCase starts the case script called name (see cases.Names).
func StartCase(t testing.TB, name string, opts ...Option) *Server {
	t.Helper()
	text := cases.Script(name)
	if text == nil {
		t.Fatalf("scripttest: no case %q", name)
	}
	s, err := Parse(text)
	if err != nil {
		t.Fatalf("scripttest: case %s: %v", name, err)
	}
	return Start(t, s, opts...)
}

func (srv *Server) serve() {
	defer close(srv.done)
	defer srv.ln.Close()

	var wg sync.WaitGroup
	for n := 1; n <= srv.cfg.conns; n++ {
		nc, err := srv.ln.Accept()
		if err != nil {
			break // shutdown closed the listener
		}
		c := srv.newSession(n, nc)
		if !srv.cfg.concurrent {
			c.run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run()
		}()
	}
	wg.Wait()
}

// shutdown stops serving and waits for the sessions to end.
func (srv *Server) shutdown() {
	srv.stopOnce.Do(func() {
		close(srv.stop)
		srv.ln.Close()
		srv.mu.Lock()
		for _, c := range srv.sessions {
			c.raw.Close()
		}
		srv.mu.Unlock()
	})
	<-srv.done
}

func (srv *Server) stopped() bool {
	select {
	case <-srv.stop:
		return true
	default:
		return false
	}
}

// Wait waits until every connection has been served, or WaitLimit has
// passed (then it stops the server), and returns the deviations in
// connection order. None means the client kept to the script.
func (srv *Server) Wait() []Deviation {
	select {
	case <-srv.done:
	case <-time.After(srv.cfg.waitLimit):
		srv.mu.Lock()
		served := 0
		for _, c := range srv.sessions {
			if c.finished {
				served++
			}
		}
		srv.devs = append(srv.devs, Deviation{Kind: KindNotServed,
			Msg: fmt.Sprintf("%d of %d connections served within %v",
				served, srv.cfg.conns, srv.cfg.waitLimit)})
		srv.mu.Unlock()
		srv.shutdown()
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	devs := append([]Deviation(nil), srv.devs...)
	for _, c := range srv.sessions {
		devs = append(devs, c.devs...)
	}
	return devs
}

// Check calls Wait and reports each deviation as a test error.
func (srv *Server) Check(t testing.TB) {
	t.Helper()
	for _, d := range srv.Wait() {
		t.Error(d)
	}
}

// Bodies returns the DATA content of every message with dot-stuffing
// removed, in order: connection 1's messages, then connection 2's, and so
// on. It needs the Capture option.
func (srv *Server) Bodies() [][]byte {
	return srv.collect(func(c *session) [][]byte { return c.bodies })
}

// RawBodies is like Bodies but returns the content as it was sent: every
// byte between the 354 reply and the final ".\r\n", still dot-stuffed.
// This is what the files/expected/*.wire fixtures hold.
func (srv *Server) RawBodies() [][]byte {
	return srv.collect(func(c *session) [][]byte { return c.raws })
}

func (srv *Server) collect(f func(*session) [][]byte) [][]byte {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var all [][]byte
	for _, c := range srv.sessions {
		all = append(all, f(c)...)
	}
	return all
}

// Transcript returns every byte the server read from connection n
// (counted from 1): plaintext before TLS, decrypted bytes after it,
// without the handshake itself. Bytes the client sent that the script
// never came to read are missing.
func (srv *Server) Transcript(n int) []byte {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if n < 1 || n > len(srv.sessions) {
		return nil
	}
	return append([]byte(nil), srv.sessions[n-1].transcript...)
}

// CertPEM returns the server's self-signed certificate for
// mx.example.com in PEM form, to use as a trust anchor.
func (srv *Server) CertPEM() []byte {
	return append([]byte(nil), srv.certPEM...)
}
