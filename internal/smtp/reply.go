package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxReplyText bounds the text kept of one reply, as Postfix's line limit
// does; a server cannot grow our memory by sending endless lines. Bytes
// beyond it are read and dropped.
const MaxReplyText = 10240

// Reply is a server reply. Text is valid until the next read on the same
// Conn; copy it (String) to keep it.
type Reply struct {
	Code int    // reply code of the last line; 0 when it had no 3 digits
	Text []byte // lines' texts without codes, joined with '\n'
}

// Positive reports whether the reply is a 2yz completion.
func (r Reply) Positive() bool { return r.Code/100 == 2 }

// Temporary reports whether the reply is a 4yz transient failure.
func (r Reply) Temporary() bool { return r.Code/100 == 4 }

// Permanent reports whether the reply is a 5yz permanent failure.
func (r Reply) Permanent() bool { return r.Code/100 == 5 }

// ClosesSession reports whether the server is closing the session:
// 421 (service not available) or 521 (does not accept mail, RFC 7504).
func (r Reply) ClosesSession() bool { return r.Code == 421 || r.Code == 521 }

// String renders the reply as smtp-source prints it: "code text".
func (r Reply) String() string { return fmt.Sprintf("%d %s", r.Code, r.Text) }

// errLineTooLong is internal: the rest of an over-long line is skipped.
var errLineTooLong = errors.New("reply line too long")

// replyBuf holds the buffers of reply reading, reused from reply to
// reply: the joined text and the line being read.
type replyBuf struct {
	text, line []byte
}

// readReply reads one whole reply from br into b's buffers. Each line is
// passed to trace when it is not nil, after censoring.
func readReply(br *bufio.Reader, b *replyBuf,
	trace func(line []byte)) (Reply, error) {

	text := b.text[:0]
	defer func() { b.text = text }()
	for {
		line, err := readLine(br, b.line[:0])
		b.line = line
		if err != nil {
			return Reply{}, err
		}
		censor(line)
		if trace != nil {
			trace(line)
		}

		code, more, rest := splitLine(line)
		if len(text) < MaxReplyText {
			text = append(text, rest...)
		}
		if !more {
			if len(text) > MaxReplyText {
				text = text[:MaxReplyText]
			}
			return Reply{Code: code, Text: text}, nil
		}
		if len(text) < MaxReplyText {
			text = append(text, '\n')
		}
	}
}

// readLine appends one line without its CRLF (or LF) to dst. At most
// MaxReplyText bytes are kept; the rest of a longer line is discarded.
func readLine(br *bufio.Reader, dst []byte) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		if room := MaxReplyText - len(dst); room > 0 {
			dst = append(dst, frag[:min(len(frag), room)]...)
		}
		switch {
		case err == nil:
			return trimEOL(dst), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(frag) > 0:
			// A last line without newline still ends the stream.
			return dst, io.ErrUnexpectedEOF
		default:
			return dst, err
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// censor replaces bytes that are neither printable nor white space with
// '?', as smtp-source does before it prints or parses a reply.
func censor(b []byte) {
	for i, c := range b {
		if (c < 0x20 || c >= 0x7f) && !isSpace(c) {
			b[i] = '?'
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// splitLine parses one reply line: the code when the line starts with
// exactly three digits (otherwise 0), whether a '-' says more lines
// follow, and the text after the separator and any spaces.
func splitLine(line []byte) (code int, more bool, text []byte) {
	n := 0
	for n < len(line) && isDigit(line[n]) {
		n++
	}
	if n == 3 {
		code = int(line[0]-'0')*100 + int(line[1]-'0')*10 +
			int(line[2]-'0')
	}
	rest := line[n:]
	if len(rest) > 0 && rest[0] == '-' {
		more = true
		rest = rest[1:]
	}
	for len(rest) > 0 && isSpace(rest[0]) {
		rest = rest[1:]
	}
	return code, more, rest
}
