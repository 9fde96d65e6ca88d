package load

import (
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// pipelined sends message seq with PIPELINING (RFC 2920): its envelope
// and DATA, or its envelope and BDAT chunks, in one write (unless they
// went out with the previous message: primed), then reads every reply
// of the group, in order, whatever they say.
func (s *session) pipelined(seq int64, chunked, primed bool) (bool,
	error) {

	chunks := 0
	if !primed {
		s.envelope(seq)
		if chunked {
			chunks = s.queueChunks(seq)
		} else {
			s.tx.pipe.Data()
		}
		if err := s.tx.pipe.Flush(); err != nil {
			return false, s.lost(err, "sending sender")
		}
	}

	mailOK, accepted, out, err := s.envelopeReplies()
	if err != nil || out == dropped {
		return false, err
	}
	s.refusedEarly = !mailOK || accepted == 0
	if chunked {
		return s.chunkReplies(chunks, mailOK, accepted)
	}

	reply, err := s.tx.pipe.Reply(smtp.PhaseData)
	if err != nil {
		return false, s.lost(err, "sending DATA command")
	}
	if reply.Code != 354 {
		// With no recipient accepted, RSET before the next MAIL.
		return false, s.recover("data rejected", reply)
	}
	if !mailOK || accepted == 0 {
		// DATA accepted with no recipient: end the data at once,
		// with no content (RFC 2920 section 3.1), and take the reply.
		s.tx.pipe.Content(nil, nil)
		if err := s.tx.pipe.Flush(); err != nil {
			return false, s.lost(err, "sending message")
		}
		return s.final(0, false, false)
	}

	s.tx.pipe.Content(s.head, s.r.cfg.Gen.Body(seq))
	s.prime()
	if err := s.tx.pipe.Flush(); err != nil {
		return false, s.lost(err, "sending message")
	}
	return s.final(accepted, false, false)
}

// envelope queues MAIL and the RCPT commands of message seq.
func (s *session) envelope(seq int64) {
	s.tx.pipe.Mail(s.r.sender, s.tx.params)
	for j := range s.r.cfg.Recipients {
		s.rcpt = s.r.cfg.Gen.AppendRecipient(s.rcpt[:0], seq, j)
		s.tx.pipe.Rcpt(s.rcpt)
	}
}

// queueChunks queues message seq's content in BDAT chunks and returns
// how many. RFC 3030 section 4.2 lets BDAT be pipelined.
func (s *session) queueChunks(seq int64) int {
	body := s.r.cfg.Gen.RawBody(seq)
	n := 0
	for off, last := 0, false; !last; n++ {
		off, last = s.tx.pipe.BDAT(s.head, body, off, s.r.cfg.ChunkSize)
	}
	return n
}

// envelopeReplies reads the replies to MAIL and to every RCPT of a
// group. A refused MAIL does not stop the reading: the RCPT replies
// (503, most likely) are on their way.
func (s *session) envelopeReplies() (mailOK bool, accepted int, _ flow,
	_ error) {

	reply, err := s.tx.pipe.Reply(smtp.PhaseMail)
	if err != nil {
		return false, 0, goOn, s.lost(err, "sending sender")
	}
	if mailOK = reply.Positive(); !mailOK {
		out, err := s.negative("sender rejected", reply)
		if err != nil || out == dropped {
			return false, 0, out, err
		}
		s.refusedEarly = true
	}

	for range s.r.cfg.Recipients {
		reply, err := s.tx.pipe.Reply(smtp.PhaseRcpt)
		if err != nil {
			return false, 0, goOn, s.lost(err, "sending recipient")
		}
		out, err := s.rcptReply(reply)
		if err != nil || out == dropped {
			return false, 0, out, err
		}
		if reply.Positive() {
			accepted++
		}
	}
	return mailOK, accepted, goOn, nil
}

// chunkReplies reads the replies to the n BDAT chunks of a group. After
// a refused chunk the server discards the rest (RFC 3030 section 2).
func (s *session) chunkReplies(n int, mailOK bool, accepted int) (bool,
	error) {

	if !mailOK {
		accepted = 0
	}
	refused := false
	for range n - 1 {
		reply, err := s.tx.pipe.Reply(smtp.PhaseData)
		if err != nil {
			return false, s.lost(err, "sending message")
		}
		if reply.Positive() {
			continue
		}
		refused = true
		out, err := s.negative("data rejected", reply)
		if err != nil || out == dropped {
			return false, err
		}
	}
	return s.final(accepted, true, refused)
}

// prime takes the session's next message, when it may start at once,
// and queues its envelope and DATA after the content of the message in
// progress: with -d, one write per message instead of two.
func (s *session) prime() {
	cfg := &s.r.cfg
	if !cfg.KeepOpen || cfg.FixedDelay > 0 || cfg.RandomDelay > 0 ||
		cfg.Rate > 0 {
		return // the next message waits, or goes on a new connection
	}
	next, ok := s.r.take()
	if !ok {
		return
	}
	s.tx.next, s.tx.taken = next, true
	if s.prepare(next, s.conn.Extensions()) != nil {
		return // its transaction reports it
	}
	s.envelope(next)
	s.tx.pipe.Data()
	s.tx.primed, s.tx.primedAt = true, time.Now()
}
