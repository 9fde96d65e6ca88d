package sink

import (
	"bytes"
	"strconv"
)

// splitCommand splits a command line the way smtp-sink does: the text
// ends at a NUL, the verb is the first word separated by spaces or tabs,
// and the arguments are all after the one separator that ends the verb.
// ok is false for a line of blanks.
func splitCommand(line []byte) (verb, args []byte, ok bool) {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	i := 0
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	if i == len(line) {
		return nil, nil, false
	}
	j := i
	for j < len(line) && !isBlank(line[j]) {
		j++
	}
	verb = line[i:j]
	if j < len(line) {
		j++
	}
	return verb, line[j:], true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// lookupCommand finds a client command by its verb, ignoring case. The
// pseudo command "connect" is not a verb.
func lookupCommand(verb []byte) (Command, bool) {
	if len(verb) > 8 {
		return 0, false
	}
	for c := CmdHelo; c < numCommands; c++ {
		if equalFold(verb, commandNames[c]) {
			return c, true
		}
	}
	return 0, false
}

// equalFold compares an ASCII verb with a lower-case name.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// heloArgs returns what smtp-sink records as X-Helo-Args: the printable
// arguments without leading white space.
func heloArgs(args []byte, utf8ok bool) string {
	p := printable(args, utf8ok)
	i := 0
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	return p[i:]
}

// pathArgs returns what smtp-sink records as X-Mail-Args or X-Rcpt-Args:
// the printable arguments after the first run of colons, without
// leading white space; all of "FROM:<a> SIZE=10" but "FROM:".
func pathArgs(args []byte, utf8ok bool) string {
	p := printable(args, utf8ok)
	i := 0
	for i < len(p) && p[i] != ':' {
		i++
	}
	for i < len(p) && p[i] == ':' {
		i++
	}
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	return p[i:]
}

// mailSize returns the value of a SIZE= parameter of MAIL (RFC 1870),
// or -1 if there is none or it is not a number.
func mailSize(args []byte) int64 {
	for _, f := range bytes.Fields(args) {
		if len(f) > 5 && equalFold(f[:5], "size=") {
			n, err := strconv.ParseInt(string(f[5:]), 10, 64)
			if err != nil || n < 0 {
				return -1
			}
			return n
		}
	}
	return -1
}

// parseBdat reads the arguments of "BDAT size [LAST]" (RFC 3030).
func parseBdat(args []byte) (size int64, last, ok bool) {
	f := bytes.Fields(args)
	if len(f) == 0 || len(f) > 2 {
		return 0, false, false
	}
	for _, c := range f[0] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	size, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	if len(f) == 2 {
		if !equalFold(f[1], "last") {
			return 0, false, false
		}
		last = true
	}
	return size, last, true
}
