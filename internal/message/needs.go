package message

import (
	"bytes"
	"unicode/utf8"
)

// Needs says which ESMTP extensions a message needs of the server, so
// that the client can add the MAIL parameters that declare them.
type Needs uint8

const (
	// Need8BitMIME: the content has bytes above 127, to be declared
	// with BODY=8BITMIME (RFC 6152).
	Need8BitMIME Needs = 1 << iota

	// NeedSMTPUTF8: an envelope address or a header field has UTF-8
	// beyond ASCII, to be declared with SMTPUTF8 (RFC 6531 section
	// 3.4; RFC 6532 for the header fields).
	NeedSMTPUTF8
)

// Has reports whether n includes every need in x.
func (n Needs) Has(x Needs) bool { return n&x == x }

// addressNeeds is what an envelope address needs: SMTPUTF8 when it is
// not all ASCII.
func addressNeeds(addr string) Needs {
	if has8bit([]byte(addr)) {
		return NeedSMTPUTF8
	}
	return 0
}

// headerNeeds is what header text needs: 8-bit content, and SMTPUTF8 as
// well when the 8-bit bytes are UTF-8. Raw 8-bit bytes that are not
// UTF-8 (an old Latin-1 header) only make the content 8-bit.
func headerNeeds(h []byte) Needs {
	if !has8bit(h) {
		return 0
	}
	if utf8.Valid(h) {
		return Need8BitMIME | NeedSMTPUTF8
	}
	return Need8BitMIME
}

// bodyNeeds is what a body needs. A file is a whole message, whose
// header section, up to the first empty line, is judged as headers.
func bodyNeeds(body []byte, file bool) Needs {
	if !has8bit(body) {
		return 0
	}
	if !file {
		return Need8BitMIME
	}
	head := body
	if bytes.HasPrefix(body, []byte("\r\n")) {
		head = nil
	} else if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 {
		head = body[:i+2]
	}
	return Need8BitMIME | headerNeeds(head)
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// unstuff undoes appendLine's dot-stuffing: it drops the first '.' of
// every line that starts with one. Every line of a stuffed body ends in
// CRLF, so a line starts at the beginning or after a LF. It returns b
// itself when no line starts with a dot.
func unstuff(b []byte) []byte {
	if !bytes.HasPrefix(b, []byte(".")) &&
		!bytes.Contains(b, []byte("\n.")) {
		return b
	}
	out := make([]byte, 0, len(b))
	start := true
	for _, c := range b {
		if start && c == '.' {
			start = false
			continue
		}
		out = append(out, c)
		start = c == '\n'
	}
	return out
}
