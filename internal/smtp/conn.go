package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Phase names one step of a session, for timing and error messages.
type Phase uint8

// The steps of a session, in the order they happen.
const (
	PhaseConnect Phase = iota
	PhaseBanner
	PhaseHelo
	PhaseStartTLS
	PhaseAuth
	PhaseMail
	PhaseRcpt
	PhaseData
	PhaseEndOfData
	PhaseRset
	PhaseQuit
	NumPhases
)

var phaseNames = [NumPhases]string{
	"connect", "banner", "helo", "starttls", "auth", "mail", "rcpt",
	"data", "eod", "rset", "quit",
}

// String returns the phase's short name ("mail", "eod", ...).
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", p)
}

// Observer receives one call per completed step. Implementations must be
// safe for concurrent use by many sessions and should be cheap: they run
// on the sending path.
type Observer interface {
	// Step reports a step that started at start and took d, with the
	// reply (zero when there was none; its Text is only valid during
	// the call) or the transport error.
	Step(p Phase, start time.Time, d time.Duration, r Reply, err error)
}

// Options configure a Conn. The zero value means no timeouts, no trace
// and no observer.
type Options struct {
	// ReplyTimeout bounds each command: writing it and reading its reply.
	// The deadline is renewed lazily (see Conn.deadline), so a command
	// times out between ReplyTimeout and ReplyTimeout plus an eighth of
	// it, at most a second more, after it was sent.
	ReplyTimeout time.Duration

	// BannerTimeout bounds waiting for the server greeting.
	BannerTimeout time.Duration

	// TLSTimeout bounds the TLS handshake.
	TLSTimeout time.Duration

	// Trace, when set, sees each command line before it is sent (out is
	// true) and each reply line as read (out is false), without CRLF.
	Trace func(out bool, line []byte)

	// Observer, when set, is told about every step.
	Observer Observer

	// Dot, when set, is called right after the final dot of a message
	// has been written, before its reply is read (smtp-source's -c
	// counter moves there).
	Dot func()
}

// IOError is a transport failure during a step: the server closed the
// connection, reset it, or did not answer in time.
type IOError struct {
	Phase   Phase
	Read    bool  // failed reading the reply, after the command was sent
	Timeout bool  // the step's deadline passed
	Err     error // the underlying error
}

func (e *IOError) Error() string {
	if e.Timeout {
		return "timeout during " + e.Phase.String()
	}
	return "lost connection during " + e.Phase.String() + ": " + e.Err.Error()
}

func (e *IOError) Unwrap() error { return e.Err }

// ErrInjection reports plaintext bytes that arrived after the server's
// 220 reply to STARTTLS and before the TLS handshake: a response
// injection attempt (the CVE-2011-0411 class), which we refuse.
var ErrInjection = errors.New("unexpected data after 220 reply to STARTTLS")

// Conn is the client side of one session on an established connection.
// It is not safe for concurrent use.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	rb   replyBuf
	opt  *Options

	// The connection's read and write deadline as last set; zero when
	// unknown (a new connection, or after a TLS handshake).
	dl time.Time

	// Extensions advertised by the last EHLO reply, keyword in upper
	// case mapped to its parameters.
	ext map[string]string

	// Bytes written and read since the last TakeBytes.
	out, in int64

	// The sender whose staged bytes the next read sends (stage), and
	// a command's line as a group of one buffer, for it.
	staged sender
	one    [1][]byte

	// When the last step ended, which is when its reply was read, and
	// whether that reply was positive (stage).
	replyAt time.Time
	replyOK bool
}

// counter counts the bytes read from a Conn's connection.
type counter struct{ c *Conn }

func (r counter) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	r.c.in += int64(n)
	return n, err
}

// TakeBytes returns the bytes written and read since the last call.
func (c *Conn) TakeBytes() (out, in int64) {
	out, in = c.out, c.in
	c.out, c.in = 0, 0
	return out, in
}

// write writes b and counts it.
func (c *Conn) write(b []byte) error {
	n, err := c.nc.Write(b)
	c.out += int64(n)
	return err
}

// readBufSize is the size of a connection's read buffer. Replies are
// short (a pipelined group of 30 replies fits), and a run may hold
// thousands of connections; a longer line is read in pieces.
const readBufSize = 1024

// NewConn wraps an established connection. opt must not be nil.
func NewConn(nc net.Conn, opt *Options) *Conn {
	c := &Conn{
		nc:   nc,
		wbuf: make([]byte, 0, 512),
		rb: replyBuf{
			text: make([]byte, 0, 256),
			line: make([]byte, 0, 256),
		},
		opt: opt,
	}
	c.br = bufio.NewReaderSize(counter{c}, readBufSize)
	return c
}

// Reset makes c the client side of a new session on nc, reusing its
// buffers; the old connection must already be closed.
func (c *Conn) Reset(nc net.Conn) {
	c.nc = nc
	c.br.Reset(counter{c})
	c.ext = nil
	c.dl = time.Time{}
}

// NetConn returns the underlying connection (a *tls.Conn after StartTLS).
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Banner reads the server greeting.
func (c *Conn) Banner() (Reply, error) {
	start := time.Now()
	c.deadline(start, c.opt.BannerTimeout)
	r, err := c.read(PhaseBanner)
	c.observe(PhaseBanner, start, r, err)
	return r, err
}

// Hello sends verb (HELO, EHLO or LHLO) with the client's name. After an
// EHLO or LHLO with a positive reply, Extension reports what the server
// advertised.
func (c *Conn) Hello(verb, name string) (Reply, error) {
	c.wbuf = append(append(append(c.wbuf[:0], verb...), ' '), name...)
	r, err := c.cmd(PhaseHelo)
	c.ext = nil
	if err == nil && verb != "HELO" && r.Positive() {
		c.ext = parseExtensions(r.Text)
	}
	return r, err
}

// Extension reports whether the last EHLO/LHLO reply advertised keyword
// (upper case) and with which parameters.
func (c *Conn) Extension(keyword string) (string, bool) {
	p, ok := c.ext[keyword]
	return p, ok
}

// Rcpt sends RCPT TO:<rcpt>.
func (c *Conn) Rcpt(rcpt []byte) (Reply, error) {
	c.wbuf = append(append(append(c.wbuf[:0], "RCPT TO:<"...),
		rcpt...), '>')
	return c.cmd(PhaseRcpt)
}

// Data sends DATA; the server should answer 354.
func (c *Conn) Data() (Reply, error) {
	c.wbuf = append(c.wbuf[:0], "DATA"...)
	return c.cmd(PhaseData)
}

// Rset sends RSET.
func (c *Conn) Rset() (Reply, error) {
	c.wbuf = append(c.wbuf[:0], "RSET"...)
	return c.cmd(PhaseRset)
}

// Quit sends QUIT and reads the reply. A server that closes the
// connection instead of answering is not an error worth reporting, so
// callers usually ignore what Quit returns.
func (c *Conn) Quit() (Reply, error) {
	c.wbuf = append(c.wbuf[:0], "QUIT"...)
	return c.cmd(PhaseQuit)
}

// The final dot, as traced and as sent.
var (
	dotLine = []byte(".")
	dotCRLF = []byte(".\r\n")
)

// StartTLS sends STARTTLS and, on a 220 reply, runs the TLS handshake with
// cfg. A reply other than 220 is returned with a nil error and the session
// stays in plain text. Bytes already buffered after the 220 make it fail
// with ErrInjection. After success the caller must send EHLO again.
func (c *Conn) StartTLS(cfg *tls.Config) (Reply, error) {
	c.wbuf = append(c.wbuf[:0], "STARTTLS"...)
	start := time.Now()
	r, err := c.roundTrip(PhaseStartTLS, start)
	if err != nil || r.Code != 220 {
		c.observe(PhaseStartTLS, start, r, err)
		return r, err
	}
	if c.br.Buffered() > 0 {
		c.observe(PhaseStartTLS, start, r, ErrInjection)
		return r, ErrInjection
	}

	err = c.handshake(cfg)
	c.observe(PhaseStartTLS, start, r, err)
	return r, err
}

// Handshake runs the client side of a TLS handshake on the connection
// right away (implicit TLS, port 465 style).
func (c *Conn) Handshake(cfg *tls.Config) error {
	start := time.Now()
	err := c.handshake(cfg)
	c.observe(PhaseStartTLS, start, Reply{}, err)
	return err
}

func (c *Conn) handshake(cfg *tls.Config) error {
	ctx := context.Background()
	if c.opt.TLSTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opt.TLSTimeout)
		defer cancel()
	}
	tc := tls.Client(c.nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake failed: %w", err)
	}
	c.nc = tc
	c.br.Reset(counter{c})
	c.ext = nil
	c.dl = time.Time{}
	return nil
}

// TLSState returns the TLS connection state, if the session uses TLS.
func (c *Conn) TLSState() (tls.ConnectionState, bool) {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// cmd sends the command in c.wbuf (without CRLF) and reads its reply.
func (c *Conn) cmd(p Phase) (Reply, error) {
	start := time.Now()
	r, err := c.roundTrip(p, start)
	c.observe(p, start, r, err)
	return r, err
}

func (c *Conn) roundTrip(p Phase, start time.Time) (Reply, error) {
	if c.opt.Trace != nil {
		c.opt.Trace(true, c.wbuf)
	}
	c.wbuf = append(c.wbuf, '\r', '\n')
	c.deadline(start, c.opt.ReplyTimeout)
	c.one[0] = c.wbuf
	if c.stage(c.one[:], start) {
		return c.read(p)
	}
	if err := c.write(c.wbuf); err != nil {
		return Reply{}, ioError(p, err)
	}
	return c.read(p)
}

// sender is a connection that sends a command as the first step of
// reading its reply, and waits for the reply without first trying a
// read(2) that would find nothing (rawio.Conn). Its Read fails with an
// error whose Op is "write" when the command could not be sent.
type sender interface {
	WriteOnRead(bufs [][]byte)
	Sent() int // bytes of the staged command that went out
}

// stageWithin is how soon after the last reply a command may be sent as
// the first step of its reply's read (stage).
//
// A read that sends waits before it reads, and bytes that came in
// earlier may not end that wait: the poller may have reported them
// while nobody waited, or together with the reply that woke the read
// before. A server sends nothing unasked, but one that is going away
// may: a 421 while the session paused (-w, -R), or a negative reply and
// then a half-close (shutting its side and reading on until the client
// closes, so that the reply is not lost to a reset). A read that waits
// would then wait for --reply-timeout, where a plain read finds the
// bytes or the end at once. So a command goes out the plain way after a
// pause and after a reply that is not positive (or is 221).
//
// TODO: a server that half-closes right after a positive reply, and
// then neither answers nor closes, still makes the next command wait for
// --reply-timeout instead of failing at once. A full close, which is
// what servers do, ends the wait at once: the command gets a reset back.
const stageWithin = time.Millisecond

// stage hands bufs to a sender, to go out when the reply is read, and
// reports whether it did: not for other connections, nor when received
// bytes wait in the buffer (the reply may be among them, and the read
// that sends would not come), nor after a reply that was not positive,
// or is older than stageWithin at start, the command's start.
func (c *Conn) stage(bufs [][]byte, start time.Time) bool {
	st, ok := c.nc.(sender)
	if !ok || c.br.Buffered() > 0 || !c.replyOK ||
		start.Sub(c.replyAt) > stageWithin {
		return false
	}
	st.WriteOnRead(bufs)
	c.staged = st
	return true
}

func (c *Conn) read(p Phase) (Reply, error) {
	var trace func([]byte)
	if t := c.opt.Trace; t != nil {
		trace = func(line []byte) { t(false, line) }
	}
	r, err := readReply(c.br, &c.rb, trace)
	if st := c.staged; st != nil {
		// Sent or not, the staged bytes are the read's to count.
		c.out += int64(st.Sent())
		c.staged = nil
	}
	if err != nil {
		ioe := ioError(p, err)
		ioe.Read = !sendFailed(err)
		return Reply{}, ioe
	}
	return r, nil
}

// sendFailed says whether err is a sender's failure to send.
func sendFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "write"
}

// deadline makes the connection's deadline lie between now+d and
// now+d+slack, where slack is d/8 but at most a second. It moves the
// deadline only when it falls outside that window, to now+d+slack, so a
// session that sends many commands a second pays for SetDeadline (a
// timer update in the runtime's poller, about 7% of a client's CPU when
// done per command) about once a second instead of once per command.
func (c *Conn) deadline(now time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	want := now.Add(d)
	slack := min(d/8, time.Second)
	if !c.dl.Before(want) && !c.dl.After(want.Add(slack)) {
		return
	}
	c.dl = want.Add(slack)
	c.nc.SetDeadline(c.dl)
}

// observe reports a step to the Observer and notes when it ended.
func (c *Conn) observe(p Phase, start time.Time, r Reply, err error) {
	now := time.Now()
	c.replyAt = now
	c.replyOK = err == nil && r.Code >= 200 && r.Code < 400 && r.Code != 221
	if o := c.opt.Observer; o != nil {
		o.Step(p, start, now.Sub(start), r, err)
	}
}

func ioError(p Phase, err error) *IOError {
	return &IOError{
		Phase:   p,
		Timeout: errors.Is(err, os.ErrDeadlineExceeded),
		Err:     err,
	}
}

// parseExtensions reads the EHLO keywords from a reply text: the first
// line is the server's greeting, each further line a keyword and its
// parameters.
func parseExtensions(text []byte) map[string]string {
	ext := make(map[string]string)
	lines := bytes.Split(text, []byte("\n"))
	for _, l := range lines[1:] {
		kw, params, _ := bytes.Cut(bytes.TrimSpace(l), []byte(" "))
		if len(kw) > 0 {
			ext[string(bytes.ToUpper(kw))] = string(params)
		}
	}
	return ext
}
