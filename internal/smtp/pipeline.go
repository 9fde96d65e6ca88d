package smtp

import (
	"net"
	"time"
)

// Pipeline batches commands for one Conn into a single write and then
// reads their replies in order: command pipelining (RFC 2920) when the
// server advertises PIPELINING, and the framing of BDAT chunks (RFC
// 3030) in any case.
//
// A group is built with the queueing methods (Content, Mail, Rcpt, Data,
// BDAT), written with Flush, and answered by one Reply call per command,
// in the order they were queued. Each reply's step is timed from the
// write that carried its command, so a pipelined RCPT's latency includes
// the time the server took over the MAIL before it: the time the client
// waited for that reply.
//
// RFC 2920 section 3.1 sets the order: message content may only come
// first in a group (it ends the previous transaction), and DATA only
// last. A Pipeline does not check it; the caller builds the groups.
//
// A Pipeline reuses its buffers: once they have grown to the largest
// group, building and writing a group allocates nothing.
//
// TODO: Flush writes the whole group before any reply is read. A group
// whose replies outgrow the socket buffers while it is being written
// (tens of thousands of RCPTs to a server that answers each at once)
// would deadlock (RFC 2920 section 3.1 asks clients to avoid that);
// such groups should be split, or read while they are written.
type Pipeline struct {
	c *Conn

	buf  []byte    // commands and small content, in order
	segs []segment // large content, placed between buf's bytes
	vec  net.Buffers
	out  net.Buffers // vec, as WriteTo consumes it

	first Phase     // the phase of the group's first item
	empty bool      // nothing queued since the last Flush
	dot   bool      // the group ends a message's content
	start time.Time // when the last group was written
}

// segment is content that goes out as it is, not copied into buf,
// before buf[at:].
type segment struct {
	at   int
	data []byte
}

// copyLimit is the largest content copied into the group's buffer; a
// larger one is sent from where it is, with writev.
const copyLimit = 16 << 10

// NewPipeline returns a Pipeline writing to c, for all of c's sessions.
func NewPipeline(c *Conn) *Pipeline {
	return &Pipeline{c: c, buf: make([]byte, 0, 512), empty: true}
}

// Mail queues MAIL FROM:<sender> followed by params, which is empty or
// starts with a space (" SIZE=1234 BODY=8BITMIME").
func (p *Pipeline) Mail(sender, params []byte) {
	start := len(p.buf)
	p.buf = append(append(p.buf, "MAIL FROM:<"...), sender...)
	p.buf = append(append(p.buf, '>'), params...)
	p.command(PhaseMail, start)
}

// Rcpt queues RCPT TO:<rcpt>.
func (p *Pipeline) Rcpt(rcpt []byte) {
	start := len(p.buf)
	p.buf = append(append(append(p.buf, "RCPT TO:<"...), rcpt...), '>')
	p.command(PhaseRcpt, start)
}

// Data queues DATA, which must end the group.
func (p *Pipeline) Data() {
	start := len(p.buf)
	p.buf = append(p.buf, "DATA"...)
	p.command(PhaseData, start)
}

// Content queues a message's content, head then body, dot-stuffed and
// ending in CRLF (or empty), and the final dot. It must start the group;
// its reply is read as PhaseEndOfData.
func (p *Pipeline) Content(head, body []byte) {
	p.begin(PhaseEndOfData)
	if t := p.c.opt.Trace; t != nil {
		t(true, dotLine)
	}
	p.buf = append(p.buf, head...)
	p.content(body)
	p.buf = append(p.buf, dotCRLF...)
	p.dot = true
}

// Flush writes the queued group in one write (one writev when large
// content is queued) and calls the Options' Dot hook when the group
// ended a message's content. The group is cleared, written or not.
//
// When the connection can send as it reads (a sender, rawio.Conn), the
// group goes out with the next Reply instead, and a failure to send is
// that Reply's error: the next call must then be Reply, before anything
// is queued. The Dot hook is called all the same, as smtp-source counts
// a message when its dot is in the buffer.
func (p *Pipeline) Flush() error {
	c := p.c
	p.start = time.Now()
	c.deadline(p.start, c.opt.ReplyTimeout)

	var err error
	switch {
	case c.stage(p.gather(), p.start):
	case len(p.segs) == 0:
		err = c.write(p.buf)
	default:
		err = p.writev()
	}
	dot := p.dot
	p.buf, p.segs = p.buf[:0], p.segs[:0]
	p.empty, p.dot = true, false
	if err != nil {
		ioe := ioError(p.first, err)
		c.observe(p.first, p.start, Reply{}, ioe)
		return ioe
	}
	if dot && c.opt.Dot != nil {
		c.opt.Dot()
	}
	return nil
}

// Reply reads the next reply of the last group written, the one to a
// command of phase ph, and reports the step timed from the write.
func (p *Pipeline) Reply(ph Phase) (Reply, error) {
	c := p.c
	c.deadline(time.Now(), c.opt.ReplyTimeout)
	r, err := c.read(ph)
	c.observe(ph, p.start, r, err)
	return r, err
}

// command ends the command line that starts at buf[start:].
func (p *Pipeline) command(ph Phase, start int) {
	p.begin(ph)
	if t := p.c.opt.Trace; t != nil {
		t(true, p.buf[start:])
	}
	p.buf = append(p.buf, '\r', '\n')
}

// begin notes the phase of the group's first item.
func (p *Pipeline) begin(ph Phase) {
	if p.empty {
		p.first, p.empty = ph, false
	}
}

// content appends data to the group, by reference when it is large.
func (p *Pipeline) content(data []byte) {
	if len(data) <= copyLimit {
		p.buf = append(p.buf, data...)
		return
	}
	p.segs = append(p.segs, segment{at: len(p.buf), data: data})
}

// buffersWriter is a connection that writes several buffers in one
// system call (rawio.Conn).
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// gather returns the group as buffers: buf with the large content
// between its bytes. They stay in vec, and reference buf and the
// content, until the next group is gathered.
func (p *Pipeline) gather() net.Buffers {
	clear(p.vec) // let the last group's content go
	p.vec = p.vec[:0]
	at := 0
	for _, s := range p.segs {
		if s.at > at {
			p.vec = append(p.vec, p.buf[at:s.at])
		}
		p.vec = append(p.vec, s.data)
		at = s.at
	}
	if at < len(p.buf) || len(p.vec) == 0 {
		p.vec = append(p.vec, p.buf[at:])
	}
	return p.vec
}

// writev writes the gathered group.
func (p *Pipeline) writev() error {
	var n int64
	var err error
	if bw, ok := p.c.nc.(buffersWriter); ok {
		n, err = bw.WriteBuffers(p.vec)
	} else {
		// WriteTo consumes the slice it is called on: give it a copy,
		// so that vec keeps its array for the next group.
		p.out = p.vec
		n, err = p.out.WriteTo(p.c.nc)
	}
	p.c.out += n
	return err
}
