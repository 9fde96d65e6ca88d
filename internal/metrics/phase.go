package metrics

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Phase names what a latency measures: one step of a session, or a whole
// transaction or session.
type Phase uint8

// The phases, in the order a session goes through them. Transaction runs
// from MAIL to the final reply after the data; TransactionFromIntended is
// the same transaction measured from its scheduled start (open model),
// so that a late send counts as latency (no coordinated omission).
const (
	Connect Phase = iota
	Banner
	Helo
	StartTLS
	Auth
	Mail
	Rcpt
	Data
	EOD
	Rset
	Quit
	Transaction
	Session
	TransactionFromIntended
	NumPhases
)

var phaseNames = [NumPhases]string{
	"connect", "banner", "helo", "starttls", "auth", "mail", "rcpt",
	"data", "eod", "rset", "quit", "transaction", "session",
	"transaction_from_intended",
}

// String returns the phase's name in the result document ("connect",
// "eod", "transaction_from_intended"...).
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// verb is the phase as it prefixes reply and error keys ("RCPT 450").
func (p Phase) verb() string {
	return strings.ToUpper(p.String())
}

// ParsePhase returns the phase named name, as String spells it.
func ParsePhase(name string) (Phase, bool) {
	for p, n := range phaseNames {
		if n == name {
			return Phase(p), true
		}
	}
	return 0, false
}

// Outcome is how a message ended.
type Outcome uint8

// The outcomes of a message.
const (
	Accepted Outcome = iota // a 2xx reply to the end of data
	TempFail                // a 4xx reply ended the transaction
	PermFail                // a 5xx reply ended the transaction
	Error                   // the transport failed (refused, reset, TLS...)
	Unknown                 // data was sent but no final reply was read
	numOutcomes
)

var outcomeNames = [numOutcomes]string{
	"accepted", "tempfail", "permfail", "error", "unknown",
}

// String returns the outcome's name ("accepted", "tempfail"...).
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Kind classifies a transport failure.
type Kind uint8

// The kinds of transport failure. KindNone is no failure.
const (
	KindNone    Kind = iota
	KindRefused      // the connection was refused
	KindReset        // the peer reset or aborted the connection
	KindTimeout      // a deadline passed
	KindTLS          // the TLS handshake or a TLS record failed
	KindEOF          // the peer closed the connection
	KindOther        // anything else
	numKinds
)

var kindNames = [numKinds]string{
	"none", "refused", "reset", "timeout", "tls", "eof", "other",
}

// String returns the kind's name ("refused", "timeout"...).
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Classify returns the kind of a transport error, KindNone for nil. It
// looks through wrapped errors, so an engine's own error types work as
// long as they unwrap to the network or TLS error.
func Classify(err error) Kind {
	switch {
	case err == nil:
		return KindNone
	case isTimeout(err):
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return KindReset
	case isTLS(err):
		return KindTLS
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF
	}
	return KindOther
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTLS(err error) bool {
	var (
		alert  tls.AlertError
		header tls.RecordHeaderError
		verify *tls.CertificateVerificationError
		auth   x509.UnknownAuthorityError
		host   x509.HostnameError
		inval  x509.CertificateInvalidError
	)
	if errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, &verify) || errors.As(err, &auth) ||
		errors.As(err, &host) || errors.As(err, &inval) {
		return true
	}

	// crypto/tls reports most handshake failures as plain errors
	// ("tls: handshake failure", "tls: first record does not look like
	// a TLS handshake"); their text is all there is to go on.
	return strings.Contains(err.Error(), "tls: ")
}

// Enhanced is an enhanced status code (RFC 3463), such as 5.1.1, packed
// in a comparable value; the zero value means none.
type Enhanced uint32

// ParseEnhanced reads the enhanced status code at the start of a reply's
// text ("2.1.0 Ok" gives 2.1.0). It returns 0 when the text does not
// start with one: the class must be 2, 4 or 5 and subject and detail
// 1 to 3 digits each, followed by white space or the end of the text. It
// does not allocate.
//
// See https://www.rfc-editor.org/rfc/rfc3463#section-2.
func ParseEnhanced[T string | []byte](text T) Enhanced {
	if len(text) < 5 || text[1] != '.' {
		return 0
	}
	class := int(text[0]) - '0'
	if class != 2 && class != 4 && class != 5 {
		return 0
	}
	subject, n := digits(text[2:])
	if n == 0 || 2+n >= len(text) || text[2+n] != '.' {
		return 0
	}
	rest := text[3+n:]
	detail, m := digits(rest)
	if m == 0 || (m < len(rest) && !isSpace(rest[m])) {
		return 0
	}
	return Enhanced(class<<20 | subject<<10 | detail)
}

// digits reads 1 to 3 leading digits; more than 3 is no number.
func digits[T string | []byte](s T) (v, n int) {
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		if n == 3 {
			return 0, 0
		}
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// String returns the code as written, "5.1.1", or "" for none.
func (e Enhanced) String() string {
	if e == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", e>>20, e>>10&0x3ff, e&0x3ff)
}
