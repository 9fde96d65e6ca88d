package sink

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// maxLineLength is smtp-sink's limit on a command line, CR LF included.
const maxLineLength = 2048

var errLineTooLong = errors.New("command line too long")

// fill waits for input once the read buffer is empty. Pending replies go
// out first: this is where "flush when the input runs dry" happens, so a
// pipelined group is answered with one write.
//
// TODO: smtp-sink also holds replies while the kernel has unread input
// (a poll(2) per reply); we look only at our buffer, which saves that
// system call but may split a pipelined group that arrives in several
// segments into several writes. Measure with a pipelining client before
// adding the poll.
func (s *session) fill() error {
	if !s.inLine {
		s.renewDeadline()
	}
	if err := s.flush(); err != nil {
		return err
	}
	_, err := s.r.Peek(1)
	if err != nil {
		return readError{err}
	}
	return nil
}

// renewDeadline moves the read and write deadline to -t from now. It
// skips the work while the deadline is within a small slack of that, so
// a session that exchanges many commands a second renews it about once
// a second; the idle limit then lies between -t less the slack and -t.
func (s *session) renewDeadline() {
	now := time.Now()
	t := s.cfg.Timeout
	slack := min(t/8, time.Second)
	if s.deadline.Sub(now) > t-slack {
		return
	}
	s.deadline = now.Add(t)
	s.conn.SetDeadline(s.deadline)
}

// readError marks an error from the read side of the connection, which
// ends the session in a different way than a write error.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// readLine returns the next line, of at most limit bytes with its CR LF,
// without the CR LF. As with smtp-sink only CR LF ends a line: a bare
// LF is part of the command. The line may point into the read buffer,
// so it is good only until the next read.
//
// Unlike smtp-sink, whose -t limits each read, the line must arrive
// whole within -t of the wait for it: the deadline is set once for the
// line, so a client that trickles a command a byte at a time
// (slowloris) is cut. Message content keeps smtp-sink's limit per read.
func (s *session) readLine(limit int) ([]byte, error) {
	s.line = s.line[:0]
	s.renewDeadline()
	s.inLine = true
	line, err := s.readLineIn(limit)
	s.inLine = false
	return line, err
}

func (s *session) readLineIn(limit int) ([]byte, error) {
	for {
		if s.r.Buffered() == 0 {
			if err := s.fill(); err != nil {
				return nil, err
			}
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		end := lineEnd(s.line, buf)
		if end < 0 {
			if len(s.line)+len(buf) > limit {
				return nil, errLineTooLong
			}
			s.line = append(s.line, buf...)
			s.r.Discard(len(buf))
			continue
		}
		if len(s.line)+end > limit {
			return nil, errLineTooLong
		}

		var line []byte
		if len(s.line) == 0 {
			line = buf[:end-2]
		} else {
			s.line = append(s.line, buf[:end]...)
			line = s.line[:len(s.line)-2]
		}
		s.r.Discard(end)
		return line, nil
	}
}

// lineEnd returns the length of buf up to and including the LF of the
// first CR LF, where prev holds the bytes of the line before buf, or -1.
func lineEnd(prev, buf []byte) int {
	for from := 0; from < len(buf); {
		i := bytes.IndexByte(buf[from:], '\n')
		if i < 0 {
			return -1
		}
		i += from
		if i > 0 && buf[i-1] == '\r' {
			return i + 1
		}
		if i == 0 && len(prev) > 0 && prev[len(prev)-1] == '\r' {
			return 1
		}
		from = i + 1
	}
	return -1
}

// dataState is where the end-of-data matcher stands, as in smtp-sink:
// the states are the prefixes of CR LF . CR LF seen so far.
type dataState uint8

const (
	stAny dataState = iota
	stCR
	stCRLF
	stCRLFDot
	stCRLFDotCR
	stEnd
)

var dataWant = [stEnd]byte{'\r', '\n', '.', '\r', '\n'}

// step moves the matcher over one byte. A byte that breaks the sequence
// restarts it, at stCR if the byte is a CR.
func (st dataState) step(c byte) dataState {
	if c == dataWant[st] {
		return st + 1
	}
	if c == '\r' {
		return stCR
	}
	return stAny
}

// dumpWriter is what the data scanner writes dumped content to.
type dumpWriter interface {
	io.Writer
	io.ByteWriter
}

// scanData runs the end-of-data matcher over buf and returns how many
// bytes belong to the message, the final "." CR LF included, and whether
// the end was found. With w, the content goes to w the way smtp-sink
// dumps it: CRs deleted and a dot that starts a line dropped, which
// leaves the LF of the final ".\r\n" as an extra empty line.
//
// Only CR LF . CR LF ends the data (RFC 5321 section 4.1.1.4). The
// smuggling variants LF . LF, CR LF . LF, LF . CR LF and CR . CR LF are
// content (CVE-2023-51764 and its kin).
func scanData(buf []byte, st *dataState, w dumpWriter) (int, bool) {
	i := 0
	for i < len(buf) {
		if *st == stAny {
			j := bytes.IndexByte(buf[i:], '\r')
			if j < 0 {
				if w != nil {
					w.Write(buf[i:])
				}
				return len(buf), false
			}
			if w != nil && j > 0 {
				w.Write(buf[i : i+j])
			}
			i += j
		}

		c := buf[i]
		i++
		next := st.step(c)
		if w != nil && c != '\r' && next != stCRLFDot {
			w.WriteByte(c)
		}
		*st = next
		if next == stEnd {
			return i, true
		}
	}
	return i, false
}

// readData reads message content up to the end of data, writing it to
// w when dumping, and returns the number of bytes read.
func (s *session) readData(w dumpWriter) (int64, error) {
	var n int64
	st := stCRLF // a "." right after DATA ends the message
	for {
		if s.r.Buffered() == 0 {
			if err := s.fill(); err != nil {
				return n, err
			}
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		used, done := scanData(buf, &st, w)
		s.r.Discard(used)
		n += int64(used)
		if done {
			return n, nil
		}
	}
}

// readChunk reads a BDAT chunk of size bytes, writing it to w with CRs
// deleted when dumping (BDAT content is not dot-stuffed).
func (s *session) readChunk(size int64, w dumpWriter) error {
	for size > 0 {
		if s.r.Buffered() == 0 {
			if err := s.fill(); err != nil {
				return err
			}
		}
		n := int64(s.r.Buffered())
		if n > size {
			n = size
		}
		buf, _ := s.r.Peek(int(n))
		if w != nil {
			writeNoCR(w, buf)
		}
		s.r.Discard(int(n))
		size -= n
	}
	return nil
}

// writeNoCR writes buf to w without its CRs.
func writeNoCR(w io.Writer, buf []byte) {
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\r')
		if i < 0 {
			w.Write(buf)
			return
		}
		w.Write(buf[:i])
		buf = buf[i+1:]
	}
}
