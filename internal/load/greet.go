package load

import (
	"context"
	"errors"
	"net"
	"os"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// open connects, starts TLS for --smtps, reads the banner and greets, as
// smtp-source does.
func (s *session) open(ctx context.Context) (flow, error) {
	s.opening.Store(true)
	defer s.opening.Store(false)

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

	if s.r.cfg.ImplicitTLS {
		if err := s.conn.Handshake(s.r.cfg.TLS); err != nil {
			return goOn, &Fatal{Msg: err.Error(), Err: err}
		}
		s.tlsDone()
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
		if err := s.r.connectTurn(ctx); err != nil {
			// Counted as a connect that the stop cut short, as one
			// in progress would be, so that errors add up; after a
			// drain the message is not attempted at all.
			if s.rec != nil && !s.cutOpening() {
				s.rec.Fail(metrics.Connect, metrics.Classify(err))
			}
			return nil, err
		}
		start := time.Now()
		nc, err := s.r.cfg.Dial(ctx)
		s.r.connectDone()
		if s.rec != nil {
			if err != nil {
				if !s.cutOpening() {
					s.rec.Fail(metrics.Connect,
						metrics.Classify(err))
				}
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
		// Like smtp-source, a failed socket(2) (out of descriptors)
		// is fatal at once and named as such; -C retries connect(2).
		s.attempts--
		if step := dialStep(err); step == "socket" || s.attempts < 1 {
			return nil, fatalf("%s: %s", step, target.ErrnoText(err))
		}
		s.r.cfg.Log.Warn("connect: " + target.ErrnoText(err))
		time.Sleep(10 * time.Microsecond)
	}
}

// connectTurn waits until a connect may start (Config.ConnectLimit), or
// ctx ends; connectDone ends the connect it allowed.
func (r *Runner) connectTurn(ctx context.Context) error {
	if r.connecting == nil {
		return nil
	}
	select {
	case r.connecting <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runner) connectDone() {
	if r.connecting != nil {
		<-r.connecting
	}
}

// dialStep names the system call a dial failed in: "socket" when no
// socket could be made, "connect" otherwise.
func dialStep(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) && se.Syscall == "socket" {
		return "socket"
	}
	return "connect"
}

// greet sends HELO or LHLO, or EHLO when an extension is asked for;
// then STARTTLS and AUTH when they are, in that order (RFC 4954,
// section 4: AUTH after the TLS layer is in place).
func (s *session) greet() (flow, error) {
	out, err := s.hello()
	if err != nil || out == dropped {
		return out, err
	}
	if s.r.cfg.StartTLS {
		out, err := s.startTLS()
		if err != nil || out == dropped {
			return out, err
		}
	}
	if s.r.cfg.Auth != nil {
		return s.auth()
	}
	return goOn, nil
}

// hello sends the session's greeting verb with the client's name.
func (s *session) hello() (flow, error) {
	verb := s.r.helo
	reply, err := s.conn.Hello(verb, s.r.cfg.Hostname)
	if err != nil {
		return goOn, s.lost(err, "sending "+verb)
	}
	if !reply.Positive() {
		return s.negative(verb+" rejected", reply)
	}
	return goOn, nil
}

// startTLS upgrades the session to TLS and greets again, as RFC 3207
// asks: https://www.rfc-editor.org/rfc/rfc3207#section-4.2. In
// opportunistic mode a server that does not offer STARTTLS, or refuses
// it, gets the session in plain text.
func (s *session) startTLS() (flow, error) {
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
	case reply.ClosesSession() && optional:
		// Not a refusal of TLS but of the session: 421 or 521.
		return s.negative("STARTTLS rejected", reply)
	case reply.Code != 220 && optional:
		return goOn, nil
	case reply.Code != 220:
		err := fatalf("STARTTLS rejected: %s", words(reply))
		s.quit() // reuses the reply's buffer: word it first
		return goOn, err
	}
	s.tlsDone()
	return s.hello()
}

// tlsDone counts the handshake just made: its version, cipher suite
// and whether it resumed a session.
func (s *session) tlsDone() {
	st, ok := s.conn.TLSState()
	if !ok || s.rec == nil {
		return
	}
	s.rec.TLS(st.Version, st.CipherSuite, st.DidResume)
}

// auth authenticates with the mechanism asked for, or with the first
// of PLAIN, LOGIN and CRAM-MD5 that the server offers. A refusal is a
// negative reply as any other: fatal without -A; with -A a warning,
// and the message fails with the session, which cannot send mail
// unauthenticated.
func (s *session) auth() (flow, error) {
	offered, ok := s.conn.Extension("AUTH")
	if !ok {
		s.quit()
		return goOn, fatalf("AUTH not advertised by server")
	}
	mech := s.r.cfg.Auth.Mech
	switch {
	case mech == "":
		if mech = smtp.ChooseMechanism(offered); mech == "" {
			s.quit()
			return goOn, fatalf("no supported AUTH mechanism offered "+
				"by server: %s", offered)
		}
	case !smtp.Offers(offered, mech):
		s.quit()
		return goOn, fatalf("AUTH %s not offered by server: %s", mech,
			offered)
	}

	reply, err := s.conn.Auth(mech, s.r.cfg.Auth.Credentials)
	switch {
	case err != nil && isIO(err):
		return goOn, s.lost(err, "sending AUTH")
	case err != nil:
		s.quit()
		return goOn, fatalf("AUTH %s: %v", mech, err)
	case !reply.Positive():
		out, err := s.negative("authentication rejected", reply)
		if err != nil || out == dropped {
			return out, err
		}
		s.quit()
		return dropped, nil
	}
	return goOn, nil
}
