package message

import (
	"strconv"
	"strings"
)

// numberScheme is how one Generator numbers recipient addresses.
type numberScheme int

const (
	// countdown is Postfix 3.7 without -N: with r recipients, recipient
	// j gets r-j in front of the address, except the last, which is
	// plain. With r = 1 every address is plain.
	countdown numberScheme = iota

	// prependSerial is Postfix 3.7 with -N: a process-wide counter that
	// starts at 1 goes in front of every address.
	prependSerial

	// appendSerial is Postfix 3.9 with -N or -r: a process-wide counter
	// that starts at 0 goes at the end of the localpart.
	appendSerial

	// plain is Postfix 3.9 without -N and -r: no number at all.
	plain
)

// numberer makes recipient addresses. The serial schemes derive the
// counter from the message number, seq*r + j, so that any split of the
// message sequence over sessions still gives each recipient its own
// number.
type numberer struct {
	scheme numberScheme
	count  int64  // recipients per message (-r)
	addr   string // the -t address as given
	local  string // addr up to its last '@' (appendSerial only)
	domain string // addr from its last '@' on, or ""
}

// newNumberer picks the scheme that cfg asks for.
func newNumberer(cfg Config) numberer {
	n := numberer{
		scheme: countdown,
		count:  int64(cfg.RcptCount),
		addr:   cfg.Recipient,
		local:  cfg.Recipient,
	}

	switch {
	case cfg.Numbering == NumberingAppend && (cfg.Numbered || cfg.RcptSet):
		n.scheme = appendSerial
		if at := strings.LastIndexByte(cfg.Recipient, '@'); at >= 0 {
			n.local, n.domain = cfg.Recipient[:at], cfg.Recipient[at:]
		}
	case cfg.Numbering == NumberingAppend:
		n.scheme = plain
	case cfg.Numbered:
		n.scheme = prependSerial
	}
	return n
}

// AppendRecipient appends the address (without angle brackets) of
// recipient j (0-based, in the order the RCPT commands are sent) of
// message seq (0-based global message number).
func (g *Generator) AppendRecipient(dst []byte, seq int64, j int) []byte {
	return g.rcpt.appendRcpt(dst, seq, int64(j))
}

// appendRcpt appends the address of recipient j of message seq.
func (n *numberer) appendRcpt(dst []byte, seq, j int64) []byte {
	switch n.scheme {
	case countdown:
		if j < n.count-1 {
			dst = strconv.AppendInt(dst, n.count-j, 10)
		}
	case prependSerial:
		dst = strconv.AppendInt(dst, seq*n.count+j+1, 10)
	case appendSerial:
		dst = append(dst, n.local...)
		dst = strconv.AppendInt(dst, seq*n.count+j, 10)
		return append(dst, n.domain...)
	}
	return append(dst, n.addr...)
}

// appendTo appends the address shown in the To header of message seq:
// the last recipient of the transaction with Postfix 3.9 numbering, the
// plain -t address otherwise.
func (n *numberer) appendTo(dst []byte, seq int64) []byte {
	if n.scheme == appendSerial {
		return n.appendRcpt(dst, seq, n.count-1)
	}
	return append(dst, n.addr...)
}

// maxLen is an upper bound on the length of any address this numberer
// makes: the address plus the longest decimal int64.
func (n *numberer) maxLen() int {
	return len(n.addr) + len("-9223372036854775808")
}
