package load

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// session is one of the -s parallel sessions: it takes messages from the
// shared budget and sends them, over one connection after another.
type session struct {
	r   *Runner
	id  int
	rec *metrics.Shard // nil when the run is not measured
	opt smtp.Options   // the engine's options, with this session's observer

	conn     *smtp.Conn // the session's connection, nil between them
	engine   *smtp.Conn // reused for every connection of the session
	attempts int        // connection attempts left (-C), never refilled

	// nc is the open connection, for the Runner to close when it stops
	// the run; mu guards it.
	mu sync.Mutex
	nc net.Conn

	rcpt []byte
	head []byte

	// The message in progress: the code of its last negative reply,
	// its recipients' fate, and when its transaction started and got
	// its deciding reply.
	negCode        int
	rcptOK, rcptNo int
	txStart, txEnd time.Time

	opened time.Time // when the connection was made
}

func newSession(r *Runner, id int) *session {
	s := &session{
		r:        r,
		id:       id,
		opt:      r.cfg.Conn,
		attempts: r.cfg.ConnectAttempts,
		rcpt:     make([]byte, 0, 128),
		head:     make([]byte, 0, 512),
	}
	if r.cfg.Metrics != nil {
		s.rec = r.cfg.Metrics.NewShard()
		s.opt.Observer = s
	}
	return s
}

// Step records one step of the engine (smtp.Observer). The engine's
// phases are the first of metrics' phases, in the same order.
func (s *session) Step(p smtp.Phase, _ time.Time, d time.Duration,
	r smtp.Reply, err error) {

	if err != nil {
		s.rec.Fail(metrics.Phase(p), metrics.Classify(err))
		return
	}
	s.rec.Step(metrics.Phase(p), d, r.Code, metrics.ParseEnhanced(r.Text))
}

// flow says how a step left the session.
type flow int

const (
	goOn    flow = iota // carry on in this session
	dropped             // the server closed the session (421/521)
)

// run sends message seq, then more until the budget is spent.
func (s *session) run(ctx context.Context, seq int64) error {
	// A session that ends in error or is stopped leaves without QUIT:
	// smtp-source exits at once on a fatal error.
	defer s.close()

	for first := true; ; first = false {
		if !first {
			var ok bool
			if seq, ok = s.r.take(); !ok {
				s.quit()
				return nil
			}
		}
		intended, send, err := s.r.pause(ctx, seq, first, s.rec)
		if err != nil {
			return nil // stopped while waiting: nothing was attempted
		}
		if !send {
			continue // dropped: too late for its schedule
		}

		o, err := s.send(ctx, seq)
		s.finish(o, intended)
		if ctx.Err() != nil {
			// Stopped by another session's fatal error or by the
			// caller: what this session saw since is not news.
			return nil
		}
		if err != nil {
			return err
		}
		if !s.r.cfg.KeepOpen {
			s.quit()
		}
	}
}

// send delivers message seq, opening a connection first when the session
// has none, and says how it ended.
func (s *session) send(ctx context.Context, seq int64) (metrics.Outcome,
	error) {

	s.negCode, s.rcptOK, s.rcptNo = 0, 0, 0
	s.txStart, s.txEnd = time.Time{}, time.Time{}
	if s.conn == nil {
		f, err := s.open(ctx)
		if err != nil || f == dropped {
			return s.failure(err), err
		}
	}
	delivered, err := s.transaction(seq)
	if delivered {
		return metrics.Accepted, err
	}
	return s.failure(err), err
}

// failure classifies a message that was not delivered: refused by a
// reply, lost to the transport, or unknown when its data went out and no
// final reply came back.
func (s *session) failure(err error) metrics.Outcome {
	var ioe *smtp.IOError
	switch {
	case errors.As(err, &ioe) && ioe.Phase == smtp.PhaseEndOfData &&
		ioe.Read:
		return metrics.Unknown
	case s.negCode/100 == 4:
		return metrics.TempFail
	case s.negCode != 0:
		return metrics.PermFail
	}
	return metrics.Error
}

// finish counts a message that was attempted.
func (s *session) finish(o metrics.Outcome, intended time.Time) {
	if o == metrics.Accepted {
		s.r.accepted.Add(1)
	} else {
		s.r.failed.Add(1)
	}
	if s.rec == nil {
		return
	}

	var d, fromIntended time.Duration
	if !s.txEnd.IsZero() {
		d = s.txEnd.Sub(s.txStart)
		if !intended.IsZero() {
			fromIntended = s.txEnd.Sub(intended)
		}
	}
	s.rec.Recipients(s.rcptOK, s.rcptNo)
	s.rec.Message(o, d, fromIntended)
}

// open connects, reads the banner and greets, as smtp-source does.
func (s *session) open(ctx context.Context) (flow, error) {
	nc, err := s.dial(ctx)
	if err != nil {
		return goOn, err
	}
	s.r.sessions.Add(1)
	s.opened = time.Now()
	if s.rec != nil {
		s.rec.SessionOpened()
	}
	if s.engine == nil {
		s.engine = smtp.NewConn(nc, &s.opt)
	} else {
		s.engine.Reset(nc)
	}
	s.conn = s.engine

	// A stopped run must not wait for a silent server: the Runner
	// closes what it finds here.
	s.mu.Lock()
	s.nc = nc
	s.mu.Unlock()
	if ctx.Err() != nil {
		return goOn, ctx.Err()
	}

	reply, err := s.conn.Banner()
	if err != nil {
		return goOn, s.lost(err, "reading server greeting")
	}
	if !reply.Positive() {
		// smtp-source goes on with HELO even after 421 or 521, which
		// say the server is closing; we end the session there.
		out, err := s.negative("rejected at server banner", reply)
		if err != nil || out == dropped {
			return out, err
		}
	}

	if s.r.cfg.NoHelo {
		return goOn, nil
	}
	return s.greet()
}

// dial connects with smtp-source's -C retry budget: each failure uses one
// attempt; the last one is fatal.
func (s *session) dial(ctx context.Context) (net.Conn, error) {
	for {
		start := time.Now()
		nc, err := s.r.cfg.Dial(ctx)
		if s.rec != nil {
			if err != nil {
				s.rec.Fail(metrics.Connect, metrics.Classify(err))
			} else {
				s.rec.Step(metrics.Connect, time.Since(start), 0, 0)
			}
		}
		if err == nil {
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.attempts--
		if s.attempts < 1 {
			return nil, fatalf("connect: %s", target.ErrnoText(err))
		}
		s.r.cfg.Log.Warn("connect: " + target.ErrnoText(err))
		time.Sleep(10 * time.Microsecond)
	}
}

// greet sends HELO or LHLO, or EHLO and STARTTLS when TLS is asked for.
func (s *session) greet() (flow, error) {
	verb := s.r.helo
	reply, err := s.conn.Hello(verb, s.r.cfg.Hostname)
	if err != nil {
		return goOn, s.lost(err, "sending "+verb)
	}
	if !reply.Positive() {
		return s.negative(verb+" rejected", reply)
	}
	if s.r.cfg.StartTLS {
		return s.startTLS(verb)
	}
	return goOn, nil
}

func (s *session) startTLS(verb string) (flow, error) {
	optional := s.r.cfg.TLSOptional
	if _, ok := s.conn.Extension("STARTTLS"); !ok {
		if optional {
			return goOn, nil
		}
		s.quit()
		return goOn, fatalf("STARTTLS not advertised by server")
	}
	reply, err := s.conn.StartTLS(s.r.cfg.TLS)
	switch {
	case errors.Is(err, smtp.ErrInjection):
		return goOn, fatalf("STARTTLS: %v", err)
	case err != nil && isIO(err):
		return goOn, s.lost(err, "sending STARTTLS")
	case err != nil:
		return goOn, fatalf("%v", err)
	case reply.Code != 220 && optional:
		return goOn, nil
	case reply.Code != 220:
		err := fatalf("STARTTLS rejected: %s", words(reply))
		s.quit() // reuses the reply's buffer: word it first
		return goOn, err
	}

	reply, err = s.conn.Hello(verb, s.r.cfg.Hostname)
	if err != nil {
		return goOn, s.lost(err, "sending "+verb)
	}
	if !reply.Positive() {
		return s.negative(verb+" rejected", reply)
	}
	return goOn, nil
}

// transaction sends one message: MAIL, RCPT..., DATA, content and the
// final dot, or RSET when the envelope or DATA was refused.
func (s *session) transaction(seq int64) (bool, error) {
	s.txStart = time.Now()
	reply, err := s.conn.Mail(s.r.sender)
	if err != nil {
		return false, s.lost(err, "sending sender")
	}
	if !reply.Positive() {
		return false, s.recover("sender rejected", reply)
	}

	accepted, out, err := s.recipients(seq)
	if err != nil || out == dropped {
		return false, err
	}
	if accepted == 0 {
		return false, s.rset()
	}

	reply, err = s.conn.Data()
	if err != nil {
		return false, s.lost(err, "sending DATA command")
	}
	if reply.Code != 354 {
		return false, s.recover("data rejected", reply)
	}

	return s.content(seq, accepted)
}

// recipients sends the RCPT commands of message seq and counts the
// accepted ones.
func (s *session) recipients(seq int64) (int, flow, error) {
	accepted := 0
	for j := range s.r.cfg.Recipients {
		s.rcpt = s.r.cfg.Gen.AppendRecipient(s.rcpt[:0], seq, j)
		reply, err := s.conn.Rcpt(s.rcpt)
		if err != nil {
			return 0, goOn, s.lost(err, "sending recipient")
		}
		if reply.Positive() {
			accepted++
			s.rcptOK++
			continue
		}
		s.rcptNo++
		out, err := s.negative("recipient rejected", reply)
		if err != nil || out == dropped {
			return 0, out, err
		}
	}
	return accepted, goOn, nil
}

// content sends the message and the final dot and reads the replies: one,
// or with LMTP one per accepted recipient. (smtp-source waits for one per
// recipient sent, and hangs when one was refused.)
func (s *session) content(seq int64, accepted int) (bool, error) {
	s.head = s.r.cfg.Gen.AppendHead(s.head[:0], seq, s.id)
	body := s.r.cfg.Gen.Body()
	replies := 1
	if s.r.cfg.LMTP {
		replies = accepted
	}

	delivered := false
	for i := range replies {
		var reply smtp.Reply
		var err error
		if i == 0 {
			reply, err = s.conn.Content(s.head, body)
		} else {
			reply, err = s.conn.NextReply(smtp.PhaseEndOfData)
		}
		if err != nil {
			return false, s.lost(err, "sending message")
		}
		if reply.Positive() {
			delivered = true
			s.txEnd = time.Now()
			continue
		}
		out, err := s.negative("end of data rejected", reply)
		if err != nil || out == dropped {
			return false, err
		}
	}
	return delivered, nil
}

// rset sends RSET after a refused envelope or DATA.
func (s *session) rset() error {
	reply, err := s.conn.Rset()
	if err != nil {
		return s.lost(err, "sending message")
	}
	if !reply.Positive() {
		_, err := s.negative("rset rejected", reply)
		return err
	}
	return nil
}

// recover handles a refused MAIL or DATA: fatal without -A; with -A a
// warning, then the end of the session on 421/521 or RSET otherwise.
func (s *session) recover(what string, reply smtp.Reply) error {
	out, err := s.negative(what, reply)
	if err != nil || out == dropped {
		return err
	}
	return s.rset()
}

// negative handles a negative reply: fatal without -A; with -A a warning,
// and on 421 or 521 the session is closed without QUIT.
func (s *session) negative(what string, reply smtp.Reply) (flow, error) {
	if err := s.reject(what, reply); err != nil {
		return goOn, err
	}
	if reply.ClosesSession() {
		s.drop()
		return dropped, nil
	}
	return goOn, nil
}

// reject words a negative reply as smtp-source does: a fatal error
// without -A, a warning with it.
func (s *session) reject(what string, reply smtp.Reply) error {
	s.negCode = reply.Code
	if !s.txStart.IsZero() && !s.txEnd.After(s.txStart) {
		s.txEnd = time.Now()
	}
	if !s.r.cfg.AllowReject {
		return fatalf("%s: %s", what, words(reply))
	}
	s.r.cfg.Log.Warn(what + ": " + words(reply))
	return nil
}

// words renders a reply for a warning or fatal line as smtp-source does:
// "code text", the lines of a multi-line reply joined by '?', so that a
// diagnostic stays one line.
func words(reply smtp.Reply) string {
	b := make([]byte, 0, 4+len(reply.Text))
	b = strconv.AppendInt(b, int64(reply.Code), 10)
	b = append(b, ' ')
	for _, c := range reply.Text {
		if c == '\n' {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}

// lost words a transport failure as smtp-source does ("lost connection
// while sending sender", "timeout while reading server greeting"). It is
// fatal, with or without -A.
func (s *session) lost(err error, while string) error {
	f := &Fatal{Msg: "lost connection while " + while, Err: err}
	var ioe *smtp.IOError
	if errors.As(err, &ioe) && ioe.Timeout {
		f.Msg = "timeout while " + while
	}
	return f
}

// quit ends the session politely. The QUIT reply is read but not judged:
// the messages were delivered at their final dot, and a server that
// closes instead of answering changes nothing.
func (s *session) quit() {
	if s.conn == nil {
		return
	}
	s.conn.Quit()
	s.drop()
}

// drop closes the connection, if any, without QUIT.
func (s *session) drop() {
	if s.conn == nil {
		return
	}
	s.mu.Lock()
	s.nc = nil
	s.mu.Unlock()
	s.conn.Close()
	if s.rec != nil {
		s.rec.Bytes(s.conn.TakeBytes())
		s.rec.SessionDone(time.Since(s.opened))
	}
	s.conn = nil
}

// close ends the session's part in the run: no connection, no shard.
func (s *session) close() {
	s.drop()
	if s.rec != nil {
		s.rec.Close()
	}
}

// abort closes the session's connection, if any, from another goroutine,
// so that a read in progress returns at once.
func (s *session) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
	}
}

func isIO(err error) bool {
	var ioe *smtp.IOError
	return errors.As(err, &ioe)
}
