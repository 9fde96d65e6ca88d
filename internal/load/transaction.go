package load

import (
	"strconv"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// A transaction goes one of two ways:
//
//   - In lock step, as smtp-source does: each command waits for its
//     reply (RFC 5321 section 4.3), and a refused envelope stops the
//     transaction before DATA.
//   - Pipelined (RFC 2920), when asked for with Config.Pipelining and
//     advertised by the server: MAIL, every RCPT and DATA go out in one
//     write, and all their replies are read, in order, whatever they
//     say: the client MUST check every status of a group
//     (https://www.rfc-editor.org/rfc/rfc2920#section-3.1). With -d,
//     the next message's MAIL, RCPT and DATA go out in the same write
//     as this message's content and final dot: the same section lets
//     message content be the first "command" of a group, and DATA stays
//     the last command of every group. The end of data is therefore no
//     synchronisation point, and a message costs one write.
//
// Either way the content goes with DATA, dot-stuffed, or with
// Config.Chunking, when the server advertises CHUNKING, in BDAT chunks,
// as it is (https://www.rfc-editor.org/rfc/rfc3030#section-2); BDAT
// may be pipelined (section 4.2), so the chunks then go in the
// envelope's write.
//
// Each reply of a pipelined group is timed from the write that carried
// its command (see smtp.Pipeline): the latency the client saw. So a
// message whose envelope went out with the content before it has its
// MAIL, RCPT and DATA latencies, and its transaction time, counted from
// that write.

// txState is what a session keeps between its transactions.
type txState struct {
	pipe   *smtp.Pipeline // the session's, created at its first message
	params []byte         // MAIL parameters of the message prepared

	// A message taken early (next, taken), whose envelope went out with
	// the previous message's content (primed) at primedAt, on the
	// connection of that time.
	next     int64
	taken    bool
	primed   bool
	primedAt time.Time
}

// nextMessage returns the message taken early, if any, or takes one.
func (s *session) nextMessage() (int64, bool) {
	if s.tx.taken {
		s.tx.taken = false
		return s.tx.next, true
	}
	return s.r.take()
}

// transaction sends message seq and says whether it was delivered.
func (s *session) transaction(seq int64) (bool, error) {
	if s.tx.pipe == nil {
		s.tx.pipe = smtp.NewPipeline(s.engine)
	}
	ext := s.conn.Extensions()
	pipelined := s.r.cfg.Pipelining && ext.Pipelining
	chunked := s.r.cfg.Chunking && ext.Chunking

	// A connection opened since then lost the envelope.
	primed := s.tx.primed && s.opened.Before(s.tx.primedAt)
	s.tx.primed = false
	if primed {
		s.txStart = s.tx.primedAt
	} else {
		s.txStart = time.Now()
		if err := s.prepare(seq, ext); err != nil {
			s.quit()
			return false, err
		}
	}

	if pipelined {
		return s.pipelined(seq, chunked, primed)
	}
	return s.lockStep(seq, chunked)
}

// prepare builds message seq's head (with its stamp, sent now) and its
// MAIL parameters: SIZE= when the server takes it (RFC 1870 section 3:
// the content without dot-stuffing), BODY=8BITMIME for 8-bit content
// when offered (RFC 6152), SMTPUTF8 for UTF-8 addresses or headers,
// which must not go to a server that does not offer it
// (https://www.rfc-editor.org/rfc/rfc6531#section-3.2).
func (s *session) prepare(seq int64, ext smtp.Extensions) error {
	gen := s.r.cfg.Gen
	s.head = gen.AppendHead(s.head[:0], seq, s.id)

	p := s.tx.params[:0]
	if ext.Size {
		size := len(s.head) + len(gen.RawBody(seq))
		p = strconv.AppendInt(append(p, " SIZE="...), int64(size), 10)
	}
	needs := gen.Needs(seq)
	if needs.Has(message.Need8BitMIME) && ext.EightBitMIME {
		p = append(p, " BODY=8BITMIME"...)
	}
	if needs.Has(message.NeedSMTPUTF8) && s.extended() {
		if !ext.SMTPUTF8 {
			return fatalf("SMTPUTF8 not advertised by server: " +
				"needed for UTF-8 in an address or header")
		}
		p = append(p, " SMTPUTF8"...)
	}
	s.tx.params = p
	return nil
}

// extended reports whether sessions greet with EHLO or LHLO, and so know
// the server's extensions. After HELO the message goes as it is, as
// smtp-source sends it.
func (s *session) extended() bool {
	return s.r.helo != "HELO" && !s.r.cfg.NoHelo
}

// lockStep sends message seq one command at a time: MAIL, RCPT..., DATA
// or BDAT, or RSET when the envelope or DATA was refused.
func (s *session) lockStep(seq int64, chunked bool) (bool, error) {
	reply, err := s.conn.MailWith(s.r.sender, s.tx.params)
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
	if chunked {
		return s.chunks(seq, accepted)
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
		out, err := s.rcptReply(reply)
		if err != nil || out == dropped {
			return 0, out, err
		}
		if reply.Positive() {
			accepted++
		}
	}
	return accepted, goOn, nil
}

// rcptReply counts a reply to RCPT and handles a refusal.
func (s *session) rcptReply(reply smtp.Reply) (flow, error) {
	if reply.Positive() {
		s.rcptOK++
		return goOn, nil
	}
	s.rcptNo++
	return s.negative("recipient rejected", reply)
}

// content sends message seq's content and the final dot.
func (s *session) content(seq int64, accepted int) (bool, error) {
	s.tx.pipe.Content(s.head, s.r.cfg.Gen.Body(seq))
	if err := s.tx.pipe.Flush(); err != nil {
		return false, s.lost(err, "sending message")
	}
	return s.final(accepted, false, false)
}

// chunks sends message seq's content in BDAT chunks, each waiting for
// its reply. After a refused chunk no more are sent and RSET clears the
// transaction (RFC 3030 section 2).
func (s *session) chunks(seq int64, accepted int) (bool, error) {
	body := s.r.cfg.Gen.RawBody(seq)
	for off, last := 0, false; ; {
		off, last = s.tx.pipe.BDAT(s.head, body, off, s.r.cfg.ChunkSize)
		if err := s.tx.pipe.Flush(); err != nil {
			return false, s.lost(err, "sending message")
		}
		if last {
			return s.final(accepted, true, false)
		}
		reply, err := s.tx.pipe.Reply(smtp.PhaseData)
		if err != nil {
			return false, s.lost(err, "sending message")
		}
		if !reply.Positive() {
			return false, s.recover("data rejected", reply)
		}
	}
}

// final reads the replies that end a transaction, to the final dot or
// to BDAT LAST: one, or with LMTP one per accepted recipient (RFC 2033
// section 4.2; smtp-source waits for one per recipient sent, and hangs
// when one was refused). A message is delivered when a recipient was
// accepted and a reply is positive.
//
// With BDAT, a refused chunk leaves the transaction in an undefined
// state that RSET clears (RFC 3030 section 2): after a refused BDAT LAST
// (an LMTP recipient's refusal is not one), or an earlier chunk refused
// (refused).
func (s *session) final(accepted int, bdat, refused bool) (bool, error) {
	replies := 1
	if s.r.cfg.LMTP {
		replies = max(accepted, 1)
	}

	delivered := false
	for range replies {
		reply, err := s.tx.pipe.Reply(smtp.PhaseEndOfData)
		if err != nil {
			return false, s.lost(err, "sending message")
		}
		if reply.Positive() {
			if accepted > 0 {
				delivered = true
				s.txEnd = time.Now()
			}
			continue
		}
		refused = refused || !s.r.cfg.LMTP
		out, err := s.negative("end of data rejected", reply)
		if err != nil || out == dropped {
			return false, err
		}
	}
	if bdat && refused {
		return delivered, s.rset()
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
