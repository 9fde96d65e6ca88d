package scripttest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// lingerTime bounds how long CLOSE waits for the client to close too.
const lingerTime = time.Second

// session runs the script on one connection.
type session struct {
	srv *Server
	n   int           // connection number, from 1
	raw net.Conn      // the TCP connection
	nc  net.Conn      // raw, or the TLS connection over it
	r   *bufio.Reader // reads nc
	cur *step         // the step running, for deviations

	pending []byte // a whole line peeked at and not yet consumed
	partial []byte // the start of a line cut off by a read timeout
	flagged bool   // a bare CR or LF was reported in this step

	// Guarded by srv.mu.
	transcript []byte
	bodies     [][]byte
	raws       [][]byte
	devs       []Deviation
	finished   bool
}

func (srv *Server) newSession(n int, nc net.Conn) *session {
	c := &session{srv: srv, n: n, raw: nc, nc: nc, r: bufio.NewReader(nc)}
	srv.mu.Lock()
	srv.sessions = append(srv.sessions, c)
	srv.mu.Unlock()

	// Shutdown closes the sessions it knows; this one may have come late.
	if srv.stopped() {
		nc.Close()
	}
	return c
}

func (c *session) run() {
	defer func() {
		c.raw.Close()
		c.srv.mu.Lock()
		c.finished = true
		c.srv.mu.Unlock()
	}()

	steps := c.srv.script.steps
	for i := 0; i < len(steps); {
		c.cur, c.flagged = &steps[i], false
		next, ok := c.exec(i)
		if !ok {
			return
		}
		i = next
	}
	c.closeGently()
}

// exec runs step i and returns the index of the step to run next, or
// false when the connection ends here.
func (c *session) exec(i int) (int, bool) {
	st := c.cur
	switch st.op {
	case opSend, opRaw:
		return i + 1, c.write(st.text)
	case opCmd:
		return i + 1, c.command()
	case opMaybeCmd:
		if line, err := c.peek(); err == nil && st.re.MatchString(text(line)) {
			c.pending = nil
		}
		return i + 1, true
	case opData:
		return i + 1, c.data()
	case opSleep:
		return i + 1, c.sleep(st.d)
	case opSilent:
		return i + 1, c.silent()
	case opNot:
		return i + 1, c.assertNot()
	case opTLS:
		return i + 1, c.startTLS()
	case opClose:
		c.closeGently()
		return 0, false
	case opRST:
		if tcp, ok := c.raw.(*net.TCPConn); ok {
			tcp.SetLinger(0)
		}
		return 0, false
	case opEOF:
		return i + 1, c.expectEOF()
	case opGoto:
		return st.to, true
	case opBranch:
		return c.branch(i)
	}
	panic(fmt.Sprintf("scripttest: step op %d", st.op))
}

func (c *session) write(b []byte) bool {
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.timeout))
	if _, err := c.nc.Write(b); err != nil {
		c.deviate(KindIO, "sending `%s`: %v", show(b), err)
		return false
	}
	return true
}

func (c *session) command() bool {
	want := fmt.Sprintf("expected command matching `%s`", c.cur.pat)
	line, err := c.next(c.srv.cfg.timeout)
	if err != nil {
		c.readFailed(want, err)
		return false
	}
	if !c.cur.re.MatchString(text(line)) {
		c.deviate(KindOffScript, "%s, got `%s`", want, show(line))
		return false
	}
	return true
}

// data reads message content up to CRLF.CRLF and keeps it if asked to.
func (c *session) data() bool {
	capture := c.srv.cfg.capture
	raw := []byte{}
	crlfBefore := true // the DATA command ended in CRLF
	for {
		line, err := c.next(c.srv.cfg.timeout)
		if err != nil {
			c.readFailed("expected content ending in CRLF.CRLF", err)
			return false
		}
		if crlfBefore && string(line) == ".\r\n" {
			break
		}
		crlfBefore = bytes.HasSuffix(line, crlf)
		if capture {
			raw = append(raw, line...)
		}
	}

	if capture {
		c.srv.mu.Lock()
		c.raws = append(c.raws, raw)
		c.bodies = append(c.bodies, unstuff(raw))
		c.srv.mu.Unlock()
	}
	return true
}

func (c *session) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.srv.stop:
		return false
	}
}

// silent reports an EARLY-TALKER if the client sends anything, or had
// sent anything not yet read, within the step's time. The bytes stay for
// the next step.
func (c *session) silent() bool {
	talked := len(c.unread()) > 0
	if !talked {
		c.nc.SetReadDeadline(time.Now().Add(c.cur.d))
		_, err := c.r.Peek(1)
		talked = err == nil
	}
	if talked {
		c.deviate(KindEarlyTalker,
			"client sent `%s` while the server still owed a reply",
			show(c.unread()))
	}
	return !c.srv.stopped()
}

// assertNot consumes lines for the step's time and reports those that
// match.
func (c *session) assertNot() bool {
	end := time.Now().Add(c.cur.d)
	for wait := c.cur.d; wait > 0; wait = time.Until(end) {
		line, err := c.next(wait)
		if err != nil {
			break // time is up, or the client has closed
		}
		if c.cur.re.MatchString(text(line)) {
			c.deviate(KindForbidden, "client sent `%s` (matches `%s`)",
				show(line), c.cur.pat)
		}
	}
	return !c.srv.stopped()
}

// startTLS discards what the client sent after the command that asked
// for TLS, which can only be plaintext, and runs the server side of the
// handshake.
func (c *session) startTLS() bool {
	buf, _ := c.r.Peek(c.r.Buffered())
	c.keep(buf)
	if junk := c.unread(); len(junk) > 0 {
		c.deviate(KindPlaintext, "client sent `%s` in plaintext after "+
			"the command that started TLS (discarded)", show(junk))
	}
	c.pending, c.partial = nil, nil

	tc := tls.Server(c.nc, &tls.Config{
		Certificates: []tls.Certificate{c.srv.cert}})
	tc.SetDeadline(time.Now().Add(c.srv.cfg.timeout))
	if err := tc.Handshake(); err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			c.deviate(KindPlaintext, "expected a TLS handshake, got `%s`",
				show(rh.RecordHeader[:]))
		} else {
			c.deviate(KindTLS, "handshake: %v", err)
		}
		return false
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	return true
}

func (c *session) expectEOF() bool {
	line, err := c.next(c.srv.cfg.timeout)
	switch {
	case err == nil:
		c.deviate(KindOffScript, "expected EOF, got `%s`", show(line))
	case isEOF(err) && len(c.partial) > 0:
		c.deviate(KindOffScript, "expected EOF, got `%s`", show(c.partial))
	case isEOF(err), errors.Is(err, syscall.ECONNRESET):
		// A client may end with RST rather than FIN, as smtp-source
		// does (SO_LINGER 0): both close the connection.
		return true
	default:
		c.readFailed("expected EOF", err)
	}
	return false
}

// branch peeks at the next command line. EOF falls through to the next
// step, which reports it in its own terms.
func (c *session) branch(i int) (int, bool) {
	line, err := c.peek()
	switch {
	case err == nil && c.cur.re.MatchString(text(line)):
		return c.cur.to, true
	case err == nil || isEOF(err):
		return i + 1, true
	}
	c.readFailed(fmt.Sprintf("expected a command for BRANCH `%s`",
		c.cur.pat), err)
	return 0, false
}

// closeGently sends a FIN, then reads what the client still sends until
// it closes too or lingerTime passes. Closing with unread input would
// send a reset instead, and the transcript would miss those bytes.
func (c *session) closeGently() {
	if tcp, ok := c.raw.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	buf := make([]byte, 4096)
	for {
		n, err := c.r.Read(buf)
		c.keep(buf[:n])
		if err != nil {
			return
		}
	}
}

// next returns the next line, line ending included, waiting at most d.
// After a timeout the bytes of an unfinished line are kept in c.partial
// and the next call goes on from them.
func (c *session) next(d time.Duration) ([]byte, error) {
	if line := c.pending; line != nil {
		c.pending = nil
		return line, nil
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
	b, err := c.r.ReadBytes('\n')
	c.keep(b)
	c.partial = append(c.partial, b...)
	if err != nil {
		return nil, err
	}

	line := c.partial
	c.partial = nil
	if body, ok := bytes.CutSuffix(line, crlf); !ok ||
		bytes.ContainsAny(body, "\r\n") {
		c.bareNewline(line)
	}
	return line, nil
}

// peek returns the next line without consuming it.
func (c *session) peek() ([]byte, error) {
	if c.pending == nil {
		line, err := c.next(c.srv.cfg.timeout)
		if err != nil {
			return nil, err
		}
		c.pending = line
	}
	return c.pending, nil
}

// unread returns what the client sent that no step has consumed yet.
func (c *session) unread() []byte {
	b := append(append([]byte(nil), c.pending...), c.partial...)
	buf, _ := c.r.Peek(c.r.Buffered())
	return append(b, buf...)
}

// bareNewline reports a CR or LF outside CRLF, once a step.
func (c *session) bareNewline(line []byte) {
	if !c.flagged {
		c.flagged = true
		c.deviate(KindBareNewline, "bare CR or LF in `%s`", show(line))
	}
}

func (c *session) readFailed(want string, err error) {
	got := "got "
	if len(c.partial) > 0 {
		got = fmt.Sprintf("got `%s` and then ", show(c.partial))
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.deviate(KindTimeout, "%s, %snothing within %v", want, got,
			c.srv.cfg.timeout)
	case isEOF(err):
		c.deviate(KindEOF, "%s, %sEOF", want, got)
	default:
		c.deviate(KindIO, "%s: %v", want, err)
	}
}

// deviate records a deviation at the current step. Once the server is
// stopping, read and write errors are its own doing and are dropped.
func (c *session) deviate(k Kind, format string, args ...any) {
	if c.srv.stopped() {
		return
	}
	d := Deviation{Conn: c.n, Line: c.cur.line, Kind: k,
		Msg: fmt.Sprintf(format, args...)}
	c.srv.mu.Lock()
	c.devs = append(c.devs, d)
	c.srv.mu.Unlock()
}

// keep adds bytes read from the client to the transcript.
func (c *session) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	c.srv.mu.Lock()
	c.transcript = append(c.transcript, b...)
	c.srv.mu.Unlock()
}

var crlf = []byte("\r\n")

// unstuff removes the dot that the client added to each line starting
// with one (RFC 5321, section 4.5.2).
func unstuff(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		end := bytes.IndexByte(raw, '\n') + 1
		if end == 0 {
			end = len(raw)
		}
		out = append(out, bytes.TrimPrefix(raw[:end], []byte("."))...)
		raw = raw[end:]
	}
	return out
}

// text is a command line without its line ending, for matching.
func text(line []byte) string {
	return string(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")),
		[]byte("\r")))
}

// show prints bytes for a deviation: without a final CRLF, and with
// other control bytes escaped.
func show(b []byte) string {
	q := strconv.Quote(string(bytes.TrimSuffix(b, crlf)))
	return q[1 : len(q)-1]
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
