package sink

import (
	"bytes"
	"net"
)

// maxStampHeader bounds the header bytes kept for the stamp search: a
// stamp further into a message's header section is not found.
const maxStampHeader = 16 << 10

// headerCatch keeps the start of a message's header section, up to the
// empty line that ends it, for Config.Delivery. It sits where the dump
// writer goes, in front of it when there is one, so that the content
// is scanned once: with CRs deleted and dot-stuffing undone.
type headerCatch struct {
	next dumpWriter // the dump, or nil
	buf  []byte
	done bool // the empty line was seen, or the bound reached
}

// start readies the catcher for a new message whose content also goes
// to next, and returns the writer the data reader should use.
func (h *headerCatch) start(next dumpWriter) dumpWriter {
	h.next, h.buf, h.done = next, h.buf[:0], false
	return h
}

func (h *headerCatch) Write(p []byte) (int, error) {
	if !h.done {
		h.keep(p)
	}
	if h.next != nil {
		return h.next.Write(p)
	}
	return len(p), nil
}

func (h *headerCatch) WriteByte(c byte) error {
	if !h.done {
		h.keep([]byte{c})
	}
	if h.next != nil {
		return h.next.WriteByte(c)
	}
	return nil
}

// keep appends p, up to the end of the header section.
func (h *headerCatch) keep(p []byte) {
	from := max(len(h.buf)-1, 0)
	h.buf = append(h.buf, p[:min(len(p), maxStampHeader-len(h.buf))]...)
	if i := bytes.Index(h.buf[from:], []byte("\n\n")); i >= 0 {
		h.buf = h.buf[:from+i+2]
		h.done = true
	}
	if len(h.buf) >= maxStampHeader ||
		(len(h.buf) > 0 && h.buf[0] == '\n') {
		h.done = true
	}
}

// deliveryWriter returns the writer for a message's content: w, or a
// header catcher in front of it when delivery is measured.
func (s *session) deliveryWriter(w dumpWriter) dumpWriter {
	if s.cfg.Delivery == nil {
		return w
	}
	if s.stamp == nil {
		s.stamp = &headerCatch{}
	}
	return s.stamp.start(w)
}

// delivered records a message whose end of data was accepted.
func (s *session) delivered() {
	if s.cfg.Delivery == nil || s.stamp == nil {
		return
	}
	s.cfg.Delivery.Arrived(s.stamp.buf, clientHost(s.conn))
	s.stamp.buf = s.stamp.buf[:0]
}

// clientHost returns the client's address without its port.
func clientHost(conn net.Conn) string {
	if conn == nil {
		return ""
	}
	addr := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// carry returns the catcher for the next BDAT chunk of the message,
// which goes on to next.
func (h *headerCatch) carry(next dumpWriter) dumpWriter {
	h.next = next
	return h
}
