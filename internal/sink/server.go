package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/rawio"
)

// Server is a running sink. Make one with New, then call Serve with one
// or more listeners.
type Server struct {
	cfg     Config
	log     *slog.Logger
	enabled [numCommands]bool
	faults  [numCommands][]Fault
	banner  string
	ehlo    [2][]byte // EHLO reply in plain text and under TLS
	dumper  *dumper
	seed    uint64
	started time.Time

	// Counters.
	seq        atomic.Uint64 // sessions accepted
	sessions   atomic.Int64  // sessions ended
	active     atomic.Int64
	quits      atomic.Int64
	messages   atomic.Int64
	refused    atomic.Int64 // messages whose end of data was refused
	recipients atomic.Int64
	bytes      atomic.Int64
	auths      atomic.Int64 // real AUTH exchanges that succeeded
	authFails  atomic.Int64 // and those that did not
	counter    *counterPrinter

	// Lifecycle.
	slots    chan struct{} // -m: one per session in progress
	work     chan *session // to idle workers
	pool     sync.Pool     // of *session, with their buffers
	done     chan struct{} // closed when the server stops
	stopOnce sync.Once
	mu       sync.Mutex
	closed   bool
	err      error // the first fatal error
	conns    map[net.Conn]struct{}
	lns      map[net.Listener]struct{}
	wg       sync.WaitGroup // sessions and helpers
}

// Stats is a snapshot of a server's counters.
type Stats struct {
	Sessions   int64 // sessions ended (smtp-sink's -c "sess")
	Active     int64 // sessions in progress
	Quits      int64 // QUIT commands (smtp-sink's -c "quit")
	Messages   int64 // messages received (smtp-sink's -c "mesg")
	Refused    int64 // of those, not accepted at the end of data
	Recipients int64 // accepted recipients of those messages
	Bytes      int64 // their DATA or BDAT bytes, end-of-data included
	Elapsed    time.Duration

	// Real AUTH, with Config.Users only (RealAuth). AuthFailures counts
	// the exchanges of a known mechanism that did not end with 235:
	// wrong credentials, cancelled, undecodable or too long.
	RealAuth     bool
	Auths        int64
	AuthFailures int64
}

// MessageRate returns messages per second over Elapsed.
func (st Stats) MessageRate() float64 {
	if st.Elapsed <= 0 {
		return 0
	}
	return float64(st.Messages) / st.Elapsed.Seconds()
}

// String is the summary line printed at exit, with the AUTH counts
// when AUTH is real.
func (st Stats) String() string {
	s := fmt.Sprintf("sessions=%d messages=%d refused=%d recipients=%d"+
		" bytes=%d elapsed=%.3fs rate=%.1f msg/s", st.Sessions,
		st.Messages, st.Refused, st.Recipients, st.Bytes,
		st.Elapsed.Seconds(), st.MessageRate())
	if st.RealAuth {
		s += fmt.Sprintf(" auth=%d auth-failed=%d", st.Auths,
			st.AuthFailures)
	}
	return s
}

// New checks cfg and returns a server that logs to log (nil: discard).
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		seed:    cfg.Seed,
		started: time.Now(),
		slots:   make(chan struct{}, cfg.MaxSessions),
		work:    make(chan *session),
		done:    make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
		lns:     make(map[net.Listener]struct{}),
	}
	s.setup()
	s.pool.New = func() any {
		return &session{r: bufio.NewReaderSize(nil, readBufSize)}
	}
	if cfg.Counter != nil || cfg.RateInterval > 0 {
		s.counter = newCounterPrinter(s)
		go s.counter.run()
	}
	return s, nil
}

// setup derives the command table, banner and EHLO reply from the
// configuration.
func (s *Server) setup() {
	c := &s.cfg
	for i := range s.enabled {
		s.enabled[i] = true
	}
	s.enabled[CmdConnect] = false
	s.enabled[CmdHelo] = !c.LMTP
	s.enabled[CmdEhlo] = !c.LMTP && !c.NoESMTP
	s.enabled[CmdLhlo] = c.LMTP
	s.enabled[CmdXclient] = !c.NoXCLIENT
	s.enabled[CmdXforward] = !c.NoXFORWARD
	s.enabled[CmdBdat] = c.Chunking
	s.enabled[CmdStarttls] = c.StartTLS && !c.ImplicitTLS

	for _, f := range c.Faults {
		s.faults[f.Command] = append(s.faults[f.Command], f)
	}
	switch {
	case c.PIX:
		s.banner = "220 ********"
	case c.NoESMTP:
		s.banner = "220 " + c.Hostname
	default:
		s.banner = "220 " + c.Hostname + " ESMTP"
	}
	s.ehlo[0] = ehloReply(c, s.enabled[CmdStarttls], !c.AuthTLSOnly)
	s.ehlo[1] = ehloReply(c, false, true)
	if c.Dump.enabled() {
		s.dumper = &dumper{cfg: c.Dump}
	}
}

// ehloReply builds smtp-sink's EHLO reply, with our extensions before
// its empty last line. auth is false where AUTH is not offered yet.
func ehloReply(c *Config, starttls, auth bool) []byte {
	authKw := "AUTH PLAIN LOGIN"
	if c.Users != nil {
		authKw = authKeyword
	}
	lines := []string{c.Hostname}
	add := func(on bool, kw string) {
		if on {
			lines = append(lines, kw)
		}
	}
	add(!c.NoPipelining, "PIPELINING")
	add(!c.No8BitMIME, "8BITMIME")
	add(!c.NoAuth && auth, authKw)
	add(!c.NoXCLIENT, "XCLIENT NAME HELO")
	add(!c.NoXFORWARD, "XFORWARD NAME ADDR PROTO HELO")
	add(!c.NoEnhancedStatus, "ENHANCEDSTATUSCODES")
	add(!c.NoDSN, "DSN")
	add(c.Size, fmt.Sprintf("SIZE %d", c.MaxSize))
	add(c.Chunking, "CHUNKING")
	add(c.SMTPUTF8, "SMTPUTF8")
	add(starttls, "STARTTLS")

	var b []byte
	for _, l := range lines {
		b = append(b, "250-"+l+"\r\n"...)
	}
	return append(b, "250 \r\n"...)
}

// Serve accepts sessions on ln until ctx ends, Close is called, a -n or
// -M limit is reached or a dump fails. It returns nil, or the error that
// stopped the server. The listener is closed on return.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return s.Err()
	}
	stop := context.AfterFunc(ctx, func() { s.shutdown(nil) })
	defer stop()

	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.done:
			return s.wait()
		}
		conn, err := ln.Accept()
		if err != nil {
			<-s.slots
			if s.stopping() {
				return s.wait()
			}
			if !acceptRetry(err) {
				s.shutdown(fmt.Errorf("accept: %w", err))
				return s.wait()
			}
			s.log.Warn("accept: " + err.Error())
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.start(rawio.Wrap(conn))
	}
}

// acceptRetry tells whether an accept error is worth waiting out, such
// as running out of file descriptors.
func acceptRetry(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && !errors.Is(err, net.ErrClosed)
}

// start hands a new connection to an idle worker goroutine, or to a
// new one. Reusing workers and their sessions' buffers keeps the cost
// of a connection close to that of smtp-sink's event loop when every
// message comes on a new connection.
func (s *Server) start(conn net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		<-s.slots
		return
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.active.Add(1)

	sess := s.pool.Get().(*session)
	sess.reset(s, conn)
	if s.cfg.Verbose {
		family, addr := clientAddr(conn)
		s.log.Info(fmt.Sprintf("connect (%s %s)", family, addr))
	}
	select {
	case s.work <- sess:
	default:
		go s.worker(sess)
	}
}

// workerIdle is how long a worker waits for another session.
const workerIdle = 10 * time.Second

// worker serves sessions until none comes for workerIdle.
func (s *Server) worker(sess *session) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		conn := sess.conn
		sess.serve()
		s.forget(conn)
		sess.release()
		s.pool.Put(sess)
		s.wg.Done()

		idle.Reset(workerIdle)
		select {
		case sess = <-s.work:
		case <-idle.C:
			return
		case <-s.done:
			return
		}
	}
}

// clientAddr returns the address family and the client address as
// smtp-sink's -v and dumps show them.
func clientAddr(conn net.Conn) (family, addr string) {
	ta, ok := conn.RemoteAddr().(*net.TCPAddr)
	switch {
	case !ok:
		return "AF_LOCAL", "local"
	case ta.IP.To4() != nil:
		return "AF_INET", ta.IP.To4().String()
	default:
		return "AF_INET6", ta.IP.String()
	}
}

// forget drops a finished session's connection and frees its slot.
func (s *Server) forget(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	<-s.slots
}

// track registers a listener so that shutdown closes it.
func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.lns[ln] = struct{}{}
	return true
}

// sessionEnded counts an ended session and applies -n.
func (s *Server) sessionEnded() {
	s.active.Add(-1)
	s.sessions.Add(1)
	s.counter.poke()
	if n := s.cfg.MaxQuits; n > 0 && s.quits.Load() >= int64(n) {
		s.shutdown(nil)
	}
}

// quit counts a QUIT.
func (s *Server) quit() {
	s.quits.Add(1)
}

// message counts a received message and reports whether it reached
// the -M limit, at which smtp-sink exits at once, before its reply.
// With sessions in parallel the count never passes the limit: a message
// that comes in after it is not counted, as smtp-sink would be gone.
func (s *Server) message(rcpts int, n int64) (limit bool) {
	if max := int64(s.cfg.MaxMessages); max > 0 {
		cur := s.messages.Load()
		for cur < max && !s.messages.CompareAndSwap(cur, cur+1) {
			cur = s.messages.Load()
		}
		if cur >= max {
			s.shutdown(nil)
			return true
		}
		limit = cur+1 == max
	} else {
		s.messages.Add(1)
	}
	if rcpts > 0 {
		s.recipients.Add(int64(rcpts))
	}
	s.bytes.Add(n)
	s.counter.poke()
	if limit {
		s.shutdown(nil)
	}
	return limit
}

// fail stops the server on a fatal error, such as a dump that cannot be
// written, which is fatal in smtp-sink too.
func (s *Server) fail(err error) {
	s.shutdown(err)
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Sessions:   s.sessions.Load(),
		Active:     s.active.Load(),
		Quits:      s.quits.Load(),
		Messages:   s.messages.Load(),
		Refused:    s.refused.Load(),
		Recipients: s.recipients.Load(),
		Bytes:      s.bytes.Load(),
		Elapsed:    time.Since(s.started),

		RealAuth:     s.cfg.Users != nil,
		Auths:        s.auths.Load(),
		AuthFailures: s.authFails.Load(),
	}
}

// Done is closed when the server stops.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the fatal error that stopped the server, if any.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the server: listeners and sessions are closed at once,
// as when smtp-sink is killed. It waits for the sessions to end.
func (s *Server) Close() error {
	s.shutdown(nil)
	s.wait()
	return nil
}

func (s *Server) stopping() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// shutdown stops everything once; err, if any, is kept for Serve.
func (s *Server) shutdown(err error) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.err = err
		close(s.done)
		for ln := range s.lns {
			ln.Close()
		}
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
}

// wait waits for the sessions after a shutdown, then for the last
// counter line, and returns the shutdown's error.
func (s *Server) wait() error {
	s.wg.Wait()
	s.counter.stop()
	return s.Err()
}
