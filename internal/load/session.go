package load

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
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

	// opening is set while the session connects and greets, when a
	// drain closes it (Runner.abortOpening).
	opening atomic.Bool

	// nc is the open connection, for the Runner to close when it stops
	// the run; mu guards it.
	mu sync.Mutex
	nc net.Conn

	rcpt []byte
	head []byte
	tx   txState // pipelining and message parameters (transaction.go)

	// The message in progress: the code of its last negative reply,
	// its recipients' fate, and when its transaction started and got
	// its deciding reply.
	negCode        int
	rcptOK, rcptNo int
	txStart, txEnd time.Time

	// refusedEarly says that the envelope of the message in progress
	// was refused within a pipelined group: the replies to the rest of
	// the group (503 to RCPT after a refused MAIL, to DATA or BDAT with
	// no recipient) follow from that refusal and do not change negCode,
	// so the message ends as it would one command at a time.
	refusedEarly bool

	opened time.Time // when the connection was made
}

func newSession(r *Runner, id int) *session {
	s := &session{
		r:        r,
		id:       id,
		opt:      r.cfg.Conn,
		attempts: r.cfg.ConnectAttempts,
		rcpt:     make([]byte, 0, 128),
		head:     make([]byte, 0, 256),
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
		if s.cutOpening() {
			return // not attempted: not an error either
		}
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
			if seq, ok = s.nextMessage(); !ok {
				s.quit()
				return nil
			}
		}
		intended, send, err := s.r.pause(ctx, seq, first, s.rec)
		if errors.Is(err, errDrained) {
			s.quit() // nothing more to send: leave politely
			return nil
		}
		if err != nil {
			return nil // stopped while waiting: nothing was attempted
		}
		if !send {
			continue // dropped: too late for its schedule
		}

		o, err := s.send(seq)
		if errors.Is(err, errDrained) {
			return nil // cut while opening: nothing was attempted
		}
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
// has none (in the Runner's openCtx, which a drain ends), and says how it
// ended.
func (s *session) send(seq int64) (metrics.Outcome, error) {

	s.negCode, s.rcptOK, s.rcptNo = 0, 0, 0
	s.refusedEarly = false
	s.txStart, s.txEnd = time.Time{}, time.Time{}
	if s.conn == nil {
		f, err := s.open(s.r.openCtx)
		if err != nil && s.r.draining() {
			return 0, errDrained
		}
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
	if !s.refusedEarly || s.negCode == 0 {
		s.negCode = reply.Code
	}
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

// cutOpening reports whether a drain is ending the session while it
// opens.
func (s *session) cutOpening() bool {
	return s.opening.Load() && s.r.draining()
}

func isIO(err error) bool {
	var ioe *smtp.IOError
	return errors.As(err, &ioe)
}
