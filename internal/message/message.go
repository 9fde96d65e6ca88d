// Package message builds the bytes of every message go-smtp-source sends:
// the envelope addresses and the content that goes between the 354 reply
// to DATA and the final ".\r\n".
//
// The bytes are those of Postfix smtp-source 3.7 (the header block, the
// built-in "La de da" body, the -l payload, the -F file and the recipient
// numbering of Postfix 3.7 or 3.9), with these documented fixes:
//
//   - Message-Id is unique per message: pid, session and message number,
//     where smtp-source uses pid, socket descriptor and a counter that
//     repeats across sessions.
//   - A -F file goes out with CRLF line endings whatever the file used
//     (LF, CRLF, mixed or bare CR), and without the extra empty line that
//     smtp-source sends before the final dot; an empty file is an empty
//     message, where smtp-source sends its built-in body instead.
//     Config.PostfixFileCompat restores smtp-source's bytes.
//   - Line breaks in the header values (subject, addresses, hostname) are
//     refused, so that every line on the wire ends in CRLF.
//
// Everything that is the same for all messages is built once by New; the
// per-message calls append into a buffer the caller owns and do not
// allocate once that buffer is large enough.
//
// See RFC 5321 section 4.5.2 for the transparency (dot-stuffing) rule and
// RFC 5322 section 3.3 for the Date syntax.
package message

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/runid"
)

// DateLayout is the layout of the Date header, as Postfix's mail_date():
// the day of the month is padded with a space, and the numeric zone is
// followed by the zone abbreviation in parentheses.
const DateLayout = "Mon, _2 Jan 2006 15:04:05 -0700 (MST)"

// Numbering selects how recipient addresses are numbered.
type Numbering int

const (
	// NumberingPrepend puts a number in front of the whole address, as
	// Postfix up to 3.8 does (Debian 12 ships 3.7). It is the default.
	NumberingPrepend Numbering = iota

	// NumberingAppend puts a number at the end of the localpart, as
	// Postfix 3.9 and later do.
	NumberingAppend
)

// String returns the name of the numbering scheme.
func (n Numbering) String() string {
	switch n {
	case NumberingPrepend:
		return "prepend"
	case NumberingAppend:
		return "append"
	}
	return "Numbering(" + strconv.Itoa(int(n)) + ")"
}

// Config holds what smtp-source's options say about the messages. The
// caller fills in smtp-source's defaults (such as foo@myhostname for the
// sender and recipient) before calling New.
type Config struct {
	Hostname  string    // myhostname (-M); used in Message-Id
	Sender    string    // envelope sender as given with -f ("" = null sender)
	Recipient string    // -t address as given
	RcptCount int       // recipients per transaction (-r), at least 1
	RcptSet   bool      // -r was given explicitly (turns on 3.9 numbering)
	Numbered  bool      // -N
	Numbering Numbering // which Postfix version's numbering to copy

	Subject    string // -S
	HasSubject bool   // -S was given (an empty subject is still sent)

	Length  int    // -l payload length; 0 means the built-in body
	File    []byte // raw -F file content, used when HasFile
	HasFile bool   // -F was given
	OldMode bool   // -o: no header block

	// Date is the time in the Date header, formatted once in its own
	// location: pass time.Now() for smtp-source's local time. The zero
	// time means time.Now().
	Date time.Time

	PID int // process id, the first field of Message-Id

	// PostfixFileCompat sends a -F file with exactly smtp-source's bytes:
	// lines split at LF only (a CR stays in the line) and one extra CRLF
	// before the final dot.
	PostfixFileCompat bool

	// EML holds the raw contents of the --eml files: message g is file
	// g mod len(EML), round robin, without generated headers. It cannot
	// be used with File or Length.
	EML [][]byte

	// Stamp prepends the X-Smtp-Source-Run, -Seq and -Sent headers to
	// every message (see ParseStamp), with RunID as the run. Now is the
	// clock of the Sent header; nil means time.Now.
	Stamp bool
	RunID string
	Now   func() time.Time
}

// Generator produces the addresses and content of each message. It is
// safe for concurrent use: all its state is set up by New and read-only.
type Generator struct {
	sender string
	rcpt   numberer

	// The header block is headFrom, the To address, headDate, the
	// Message-Id numbers, then headTail (which ends with the empty line).
	headers  bool
	headFrom []byte
	headDate []byte
	headTail []byte

	// The stamp headers, when set (see stamp.go).
	stamp *stamper

	// Everything after the header block: one body, or one per --eml
	// file. raws are the same without dot-stuffing, for BDAT, and needs
	// say what each message needs of the server.
	bodies [][]byte
	raws   [][]byte
	needs  []Needs
}

// New checks cfg and builds everything that is the same for every
// message.
func New(cfg Config) (*Generator, error) {
	if err := check(cfg); err != nil {
		return nil, err
	}

	g := &Generator{
		sender:  cfg.Sender,
		rcpt:    newNumberer(cfg),
		headers: !cfg.OldMode && !cfg.HasFile && len(cfg.EML) == 0,
	}
	if g.headers {
		g.buildHead(cfg)
	}
	if cfg.Stamp {
		g.stamp = newStamper(cfg.RunID, cfg.Now)
	}
	g.buildBodies(cfg)
	return g, nil
}

// check reports the first setting in cfg that New cannot work with.
func check(cfg Config) error {
	if cfg.RcptCount < 1 {
		return fmt.Errorf("recipient count %d: must be at least 1",
			cfg.RcptCount)
	}
	if cfg.Length < 0 {
		return fmt.Errorf("message length %d: must not be negative",
			cfg.Length)
	}
	if cfg.Length > 0 && cfg.HasFile {
		return errors.New("message length (-l) cannot be used " +
			"with a message file (-F)")
	}
	if len(cfg.EML) > 0 && (cfg.Length > 0 || cfg.HasFile) {
		return errors.New("message files (--eml) cannot be used " +
			"with -l or -F")
	}
	if cfg.Stamp {
		if err := runid.Check(cfg.RunID); err != nil {
			return err
		}
	}
	if cfg.Numbering != NumberingPrepend &&
		cfg.Numbering != NumberingAppend {
		return fmt.Errorf("unknown recipient numbering %d",
			int(cfg.Numbering))
	}

	// A line break in any of these would end a header line or an SMTP
	// command early and put a bare CR or LF on the wire.
	fields := []struct{ name, value string }{
		{"hostname", cfg.Hostname},
		{"sender", cfg.Sender},
		{"recipient", cfg.Recipient},
		{"subject", cfg.Subject},
	}
	for _, f := range fields {
		if strings.ContainsAny(f.value, "\r\n") {
			return fmt.Errorf("%s %q: contains a line break",
				f.name, f.value)
		}
	}
	return nil
}

// buildHead precomputes the constant pieces of the header block.
func (g *Generator) buildHead(cfg Config) {
	date := cfg.Date
	if date.IsZero() {
		date = time.Now()
	}

	g.headFrom = fmt.Appendf(nil, "From: <%s>\r\nTo: <", cfg.Sender)

	g.headDate = fmt.Appendf(nil, ">\r\nDate: %s\r\nMessage-Id: <",
		date.Format(DateLayout))
	g.headDate = appendHex4(g.headDate, uint64(cfg.PID))
	g.headDate = append(g.headDate, '.')

	g.headTail = fmt.Appendf(nil, "@%s>\r\n", cfg.Hostname)
	if cfg.HasSubject {
		g.headTail = fmt.Appendf(g.headTail, "Subject: %s\r\n",
			cfg.Subject)
	}
	g.headTail = append(g.headTail, "\r\n"...)
}

// SenderAddr returns the envelope sender (without angle brackets); ""
// is the null sender.
func (g *Generator) SenderAddr() string {
	return g.sender
}

// RcptCount returns the number of recipients of every message.
func (g *Generator) RcptCount() int {
	return int(g.rcpt.count)
}

// AppendContent appends what goes between the 354 reply and the final
// ".\r\n" of message seq (0-based global message number): the stamp
// (--unique-headers), the header block (unless -o, -F or --eml), the
// empty line and the body. Every line ends in CRLF and is dot-stuffed.
// session is a small number identifying the sending session; it goes
// into Message-Id.
func (g *Generator) AppendContent(dst []byte, seq int64, session int) []byte {
	dst = g.AppendHead(dst, seq, session)
	return append(dst, g.Body(seq)...)
}

// AppendHead appends the part of the content that differs between
// messages: the stamp headers, when asked for, and the header block with
// its empty line, or no header block with -o, -F or --eml. The rest of
// the content is Body. No line of it starts with a dot, so it is the
// same with and without dot-stuffing.
func (g *Generator) AppendHead(dst []byte, seq int64, session int) []byte {
	if g.stamp != nil {
		dst = g.stamp.appendTo(dst, seq)
	}
	if !g.headers {
		return dst
	}
	dst = append(dst, g.headFrom...)
	dst = g.rcpt.appendTo(dst, seq)
	dst = append(dst, g.headDate...)
	dst = appendHex4(dst, uint64(session))
	dst = append(dst, '.')
	dst = appendHex4(dst, uint64(seq))
	return append(dst, g.headTail...)
}

// Body returns the part of message seq's content that follows
// AppendHead's bytes, dot-stuffed: the same for every message, or with
// --eml the file of message seq. The slice is shared: it must not be
// modified. It lets a caller send large bodies without copying them
// (net.Buffers).
func (g *Generator) Body(seq int64) []byte {
	return g.bodies[g.pick(seq)]
}

// RawBody returns Body(seq) without dot-stuffing, as BDAT chunks carry
// it (RFC 3030 section 2). The slice is shared: it must not be modified.
func (g *Generator) RawBody(seq int64) []byte {
	return g.raws[g.pick(seq)]
}

// Needs reports what message seq needs of the server: 8BITMIME for
// 8-bit content, SMTPUTF8 for UTF-8 in an address or a header.
func (g *Generator) Needs(seq int64) Needs {
	return g.needs[g.pick(seq)]
}

// pick returns the index of message seq's body: round robin over the
// --eml files.
func (g *Generator) pick(seq int64) int {
	if len(g.bodies) == 1 {
		return 0
	}
	return int(uint64(seq) % uint64(len(g.bodies)))
}

// SizeHint returns a length that any message's content fits in, to size
// the caller's buffer once.
func (g *Generator) SizeHint() int {
	n := 0
	for _, b := range g.bodies {
		n = max(n, len(b))
	}
	if g.stamp != nil {
		n += g.stamp.maxLen()
	}
	if g.headers {
		n += len(g.headFrom) + len(g.headDate) + len(g.headTail)
		n += g.rcpt.maxLen() + 2*16 + 1
	}
	return n
}

// appendHex4 appends v in lower-case hexadecimal with at least 4 digits,
// as printf's "%04x".
func appendHex4(dst []byte, v uint64) []byte {
	digits := 1
	for x := v >> 4; x != 0; x >>= 4 {
		digits++
	}
	for ; digits < 4; digits++ {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, v, 16)
}
