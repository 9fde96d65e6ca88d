// Package load runs the closed-model load of smtp-source: a number of
// sessions at once, each sending messages one after another until the
// total message budget is spent, with smtp-source's reply handling and
// recovery (-A), connection reuse (-d), delays (-w, -R) and pacing.
//
// Messages are numbered 0, 1, 2, ... in the order sessions take them
// (the global sequence); the number picks a message's recipients,
// Message-Id and random delay, so that what message g looks like does not
// depend on which session sends it. A shard of a distributed run
// (Config.Shard) takes only its stripe of that sequence, so that what
// message g looks like does not depend on the machine either.
package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// Generator supplies the envelope and content of message seq. It is
// implemented by message.Generator.
type Generator interface {
	SenderAddr() string
	AppendRecipient(dst []byte, seq int64, j int) []byte
	// AppendHead appends the part of message seq's content that
	// differs between messages (the header block), which needs no
	// dot-stuffing; Body is the rest, shared between messages. Together
	// they are dot-stuffed and end in CRLF. RawBody is Body without
	// dot-stuffing, for BDAT.
	AppendHead(dst []byte, seq int64, session int) []byte
	Body(seq int64) []byte
	RawBody(seq int64) []byte

	// Needs says which extensions message seq needs (SMTPUTF8,
	// 8BITMIME).
	Needs(seq int64) message.Needs
}

// Config describes one run.
type Config struct {
	// Dial opens a connection to the server.
	Dial func(ctx context.Context) (net.Conn, error)

	Gen        Generator
	Messages   int64  // -m: messages in total, across all sessions
	Sessions   int    // -s: sessions at once
	Recipients int    // -r: RCPT commands per transaction
	Hostname   string // name sent with HELO/LHLO

	LMTP        bool // -L: LHLO, and one reply per recipient after "."
	NoHelo      bool // -o: MAIL straight after the banner
	KeepOpen    bool // -d: next message on the same connection
	AllowReject bool // -A: warn on negative replies and recover

	// ConnectAttempts is -C: connection attempts per session, a budget
	// for the session's whole life, as in smtp-source.
	ConnectAttempts int

	// ConnectLimit, when positive, is how many connects may be in
	// progress at once; the other sessions that need a connection wait
	// their turn, which is not part of their connect time. smtp-source
	// allows one. With no limit, a thousand sessions that start
	// together all connect before any of them may go on.
	ConnectLimit int

	FixedDelay  time.Duration // -w: pause between a session's messages
	RandomDelay int           // -R: random pause of 0..RandomDelay seconds
	Seed        uint64        // seeds the random pauses

	// Rate, when positive, paces message starts at Rate per second
	// (message g starts no earlier than Rate/g seconds after the start).
	Rate float64

	// StartTLS, when set, makes sessions greet with EHLO, require
	// STARTTLS and greet again inside TLS, using TLS.
	StartTLS bool
	TLS      *tls.Config

	// TLSOptional makes STARTTLS opportunistic: a server that does not
	// offer it, or refuses it, gets the session in plain text.
	TLSOptional bool

	// ImplicitTLS makes sessions start TLS right after connecting,
	// before the banner (port 465 style, RFC 8314), using TLS.
	ImplicitTLS bool

	// Pipelining pipelines each transaction's commands (RFC 2920)
	// when the server advertises PIPELINING; Chunking sends the content
	// with BDAT (RFC 3030) when the server advertises CHUNKING, in
	// chunks of ChunkSize bytes (0: one chunk). See transaction.go.
	Pipelining bool
	Chunking   bool
	ChunkSize  int

	// EHLO makes sessions greet with EHLO even when no extension that
	// needs it is asked for. StartTLS and Auth imply it.
	EHLO bool

	// Auth, when set, makes sessions authenticate (RFC 4954) after
	// EHLO, and after STARTTLS when that is asked for too.
	Auth *Auth

	// Conn configures every session's SMTP engine (timeouts, trace,
	// observer, dot hook).
	Conn smtp.Options

	// Duration, when positive, ends the run this long after its start:
	// no message is started after it (open and closed model alike).
	Duration time.Duration

	// MaxLateness, when positive and Rate is set, drops a message that
	// could not start within this long after its scheduled time, and
	// counts it as dropped. Otherwise late messages are sent late.
	MaxLateness time.Duration

	// Shard, when sharded, makes this run one shard of a distributed
	// run: it sends the messages g < Messages of the global sequence
	// that the shard owns (g mod N = K), each numbered g. Sessions is
	// then the shard's share (shard.Spec.Sessions).
	Shard shard.Spec

	// Start, when set, is the planned start of the run (--start-at):
	// the schedule of Rate and the end of Duration count from it, so
	// that the shards of a run keep one global schedule.
	Start time.Time

	// Drain, when closed, stops the run gently: no message is started
	// after it, sessions still connecting or greeting are closed (their
	// messages are not attempted), and transactions in flight go on to
	// their end (the caller bounds them by cancelling the run's
	// context).
	Drain <-chan struct{}

	// Metrics, when set, records every step, message and session.
	Metrics *metrics.Recorder

	// Log receives warnings (smtp-source's "warning:" lines).
	Log *slog.Logger
}

// Auth says how sessions authenticate.
type Auth struct {
	// Mech is the SASL mechanism (smtp.MechPlain...); empty picks the
	// first of PLAIN, LOGIN and CRAM-MD5 that the server offers.
	Mech string
	smtp.Credentials
}

// Result is what a run did.
type Result struct {
	Accepted int64         // messages whose end of data got a 2yz reply
	Failed   int64         // messages taken but not accepted
	Sessions int64         // connections opened
	Elapsed  time.Duration // first message taken to last session done
}

// Fatal is an error that ends the whole run, worded as smtp-source's
// "fatal:" lines ("sender rejected: 550 ...", "connect: Connection
// refused").
type Fatal struct {
	Msg string
	Err error // the cause, when there is one below the words
}

func (f *Fatal) Error() string { return f.Msg }

// Unwrap returns the cause.
func (f *Fatal) Unwrap() error { return f.Err }

func fatalf(format string, args ...any) error {
	return &Fatal{Msg: fmt.Sprintf(format, args...)}
}

// Runner holds the state shared by the sessions of one run.
type Runner struct {
	cfg   Config
	start time.Time

	next     atomic.Int64 // next message number to take
	accepted atomic.Int64
	failed   atomic.Int64
	sessions atomic.Int64

	sender []byte
	helo   string

	once  sync.Once
	fatal error
	stop  context.CancelFunc

	mu   sync.Mutex
	live []*session // sessions started, for aborting them

	// openCtx is the context of connecting and greeting; a drain ends
	// it, as there is no transaction to wait for yet.
	openCtx context.Context

	// connecting holds a token per connect in progress (ConnectLimit);
	// nil for no limit.
	connecting chan struct{}
}

// Run runs the load to completion, until ctx is done, or until the first
// fatal error, which it returns.
func Run(ctx context.Context, cfg Config) (Result, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return Result{}, err
	}
	return r.run(ctx)
}

func newRunner(cfg Config) (*Runner, error) {
	if cfg.Sessions < 1 || cfg.Messages < 0 || cfg.Recipients < 1 {
		return nil, errors.New("load: sessions and recipients must be " +
			"positive, messages not negative")
	}
	if cfg.ConnectAttempts < 1 {
		cfg.ConnectAttempts = 1
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, sender: []byte(cfg.Gen.SenderAddr())}
	if cfg.ConnectLimit > 0 && cfg.ConnectLimit < cfg.Sessions {
		r.connecting = make(chan struct{}, cfg.ConnectLimit)
	}
	r.helo = "HELO"
	if cfg.LMTP {
		r.helo = "LHLO"
	} else if cfg.StartTLS || cfg.EHLO || cfg.Auth != nil ||
		cfg.Pipelining || cfg.Chunking {
		r.helo = "EHLO"
	}
	return r, nil
}

func (r *Runner) run(ctx context.Context) (Result, error) {
	ctx, r.stop = context.WithCancel(ctx)
	defer r.stop()
	r.start = r.cfg.Start
	if r.start.IsZero() {
		r.start = time.Now()
	}

	// However the run is stopped (a fatal error, the caller), no session
	// may stay blocked on a silent server.
	context.AfterFunc(ctx, r.abortAll)
	var stopWatch func()
	r.openCtx, stopWatch = r.watchDrain(ctx)
	defer stopWatch()

	// As in smtp-source, every session takes its first message as it
	// starts, so that -s sessions really run when there are messages for
	// them, and none starts without one. All are taken before any
	// session runs, or a quick session could take a slow one's.
	var firsts []int64
	for range r.cfg.Sessions {
		seq, ok := r.take()
		if !ok {
			break
		}
		firsts = append(firsts, seq)
	}
	var wg sync.WaitGroup
	for i, seq := range firsts {
		s := newSession(r, i)
		r.mu.Lock()
		r.live = append(r.live, s)
		r.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx, seq); err != nil {
				r.fail(err)
			}
		}()
	}
	wg.Wait()
	r.dropUnsent(ctx)

	res := Result{
		Accepted: r.accepted.Load(),
		Failed:   r.failed.Load(),
		Sessions: r.sessions.Load(),
		Elapsed:  time.Since(r.start),
	}
	return res, r.fatal
}

// fail records the first fatal error and stops every session.
func (r *Runner) fail(err error) {
	r.once.Do(func() {
		r.fatal = err
		r.stop()
	})
}

// abortAll closes every session's connection.
func (r *Runner) abortAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.live {
		s.abort()
	}
}

// watchDrain returns the context for opening sessions, which a drain
// ends, and a function that stops watching. On a drain, sessions still
// connecting, waiting for the banner or greeting are closed at once:
// their message has not started, and a silent server would hold them
// until --banner-timeout.
func (r *Runner) watchDrain(ctx context.Context) (context.Context,
	func()) {

	octx, cancel := context.WithCancel(ctx)
	if r.cfg.Drain == nil {
		return octx, cancel
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-r.cfg.Drain:
			cancel()
			r.abortOpening()
		case <-done:
		}
	}()
	return octx, func() {
		close(done)
		cancel()
	}
}

// abortOpening closes the connection of every session still opening.
func (r *Runner) abortOpening() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.live {
		if s.opening.Load() {
			s.abort()
		}
	}
}

// take hands out the next message number g, the global number of the
// shard's next message, or false when the budget is spent, the run's
// duration is over or the run is draining.
func (r *Runner) take() (int64, bool) {
	if r.draining() || r.over() {
		return 0, false
	}
	seq := r.cfg.Shard.Global(r.next.Add(1) - 1)
	if seq >= r.cfg.Messages || seq >= r.dueBeforeEnd() {
		return 0, false
	}
	return seq, true
}

// dueBeforeEnd returns how many messages of the global sequence a paced
// run with a duration schedules before its end, or math.MaxInt64 when
// the run has no such end.
func (r *Runner) dueBeforeEnd() int64 {
	if r.cfg.Duration <= 0 || r.cfg.Rate <= 0 {
		return math.MaxInt64
	}
	due := math.Ceil(r.cfg.Duration.Seconds() * r.cfg.Rate)
	if due >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(due)
}

// draining reports whether Drain has been closed.
func (r *Runner) draining() bool {
	select {
	case <-r.cfg.Drain:
		return true
	default:
		return false
	}
}

// pause waits before message seq as -w, -R and the rate ask; first is
// the session's first message, which smtp-source never delays. With a
// rate it returns the message's scheduled start, and whether to send it
// at all: a message later than MaxLateness is dropped. rec, when set,
// counts late and dropped messages.
func (r *Runner) pause(ctx context.Context, seq int64, first bool,
	rec *metrics.Shard) (intended time.Time, send bool, err error) {

	var d time.Duration
	switch {
	case first:
	case r.cfg.RandomDelay > 0:
		n := mix(r.cfg.Seed, uint64(seq)) % uint64(r.cfg.RandomDelay+1)
		d = time.Duration(n) * time.Second
	case r.cfg.FixedDelay > 0:
		d = r.cfg.FixedDelay
	}
	if r.cfg.Rate <= 0 {
		if err := r.sleep(ctx, r.untilEnd(d)); err != nil {
			return time.Time{}, false, err
		}
		// A pause that outlasts --duration ends the session's run:
		// the message is not started, as none is after the end.
		return time.Time{}, !r.over(), nil
	}

	// How far behind its schedule the message is when its session can
	// first start it (after its -w or -R pause): a timer that wakes the
	// session a little after the scheduled time does not make it late.
	intended = r.start.Add(shard.Offset(seq, r.cfg.Rate))
	late := time.Since(intended) + d
	err = r.sleep(ctx, r.untilEnd(max(d, time.Until(intended))))
	if err != nil {
		return intended, false, err
	}
	if late > lateAfter && rec != nil {
		rec.Late()
	}
	if r.over() || r.cfg.MaxLateness > 0 && late > r.cfg.MaxLateness {
		// Too late for its schedule, or the run ended while it
		// waited for its session: scheduled, never started.
		if rec != nil {
			rec.Dropped()
		}
		return intended, false, nil
	}
	return intended, true, nil
}

// untilEnd bounds a pause of d by the end of --duration.
func (r *Runner) untilEnd(d time.Duration) time.Duration {
	if r.cfg.Duration <= 0 {
		return d
	}
	return min(d, time.Until(r.start.Add(r.cfg.Duration)))
}

// over reports whether --duration has run out.
func (r *Runner) over() bool {
	return r.cfg.Duration > 0 && time.Since(r.start) >= r.cfg.Duration
}

// dropUnsent counts, in a paced run with a duration that ran to its end,
// the shard's messages scheduled before the end that no session was
// free to start: each is late and dropped, so that a server too slow
// for the rate shows in the counts rather than in a smaller run.
func (r *Runner) dropUnsent(ctx context.Context) {
	cfg := &r.cfg
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Metrics == nil ||
		r.fatal != nil || ctx.Err() != nil || r.draining() {
		return
	}
	// The shard took its messages in order: those before next were
	// sent or dropped by pause, the rest of the due ones never left.
	due := cfg.Shard.Messages(min(cfg.Messages, r.dueBeforeEnd()))
	if unsent := due - r.next.Load(); unsent > 0 {
		rec := cfg.Metrics.NewShard()
		rec.Missed(unsent)
		rec.Close()
	}
}

// lateAfter is how far behind its schedule a message may be when its
// session frees up before it counts as late.
const lateAfter = time.Millisecond

// errDrained ends a pause when the run drains: the message waiting
// for it is not started.
var errDrained = errors.New("load: draining")

// sleep waits d, or less when ctx ends or the run drains.
func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.draining() {
		return errDrained
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.cfg.Drain:
		return errDrained
	}
}

// mix is SplitMix64 over seed and x: a cheap, well-spread hash that gives
// every message its own random pause whatever session sends it.
func mix(seed, x uint64) uint64 {
	z := seed + x*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
