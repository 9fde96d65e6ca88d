package message

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// builtinBody is smtp-source's body when neither -l nor -F is given.
const builtinBody = "La de da de da 1.\r\n" +
	"La de da de da 2.\r\n" +
	"La de da de da 3.\r\n" +
	"La de da de da 4.\r\n"

// payloadLineLen is the length of one -l payload line, CRLF included.
const payloadLineLen = 80

// buildBodies sets up what follows the header block: one body, or one
// per --eml file, each with its unstuffed form and its needs.
func (g *Generator) buildBodies(cfg Config) {
	env := addressNeeds(cfg.Sender) | addressNeeds(cfg.Recipient)
	if g.headers {
		env |= headerNeeds([]byte(cfg.Sender + cfg.Recipient +
			cfg.Subject))
	}

	if len(cfg.EML) == 0 {
		body := buildBody(cfg)
		g.addBody(body, env|bodyNeeds(body, cfg.HasFile))
		return
	}
	for _, raw := range cfg.EML {
		file := cfg
		file.File, file.HasFile = raw, true
		body := buildBody(file)
		g.addBody(body, env|bodyNeeds(body, true))
	}
}

// addBody adds one dot-stuffed body and what it needs.
func (g *Generator) addBody(body []byte, needs Needs) {
	g.bodies = append(g.bodies, body)
	g.raws = append(g.raws, unstuff(body))
	g.needs = append(g.needs, needs)
}

// buildBody returns the constant part of the content: the stuffed -F
// file, the -l payload or the built-in body.
func buildBody(cfg Config) []byte {
	switch {
	case cfg.HasFile && cfg.PostfixFileCompat:
		return stuffFilePostfix(cfg.File)
	case cfg.HasFile:
		return stuffFile(cfg.File)
	case cfg.Length > 0:
		return payload(cfg.Length)
	}
	return []byte(builtinBody)
}

// payload returns smtp-source's -l body: n bytes of X in which every
// full 80-byte line starts with a digit (1, 2, ... 9, 0, 1, ...) and ends
// in CRLF, then CRLF, n+2 bytes in all. The last line, 1 to 80 bytes of X
// before that CRLF, has no digit. No line starts with a dot.
func payload(n int) []byte {
	b := bytes.Repeat([]byte{'X'}, n+2)
	for end := payloadLineLen; end < n; end += payloadLineLen {
		b[end-payloadLineLen] = "0123456789"[(end/payloadLineLen)%10]
		b[end-2] = '\r'
		b[end-1] = '\n'
	}
	b[n] = '\r'
	b[n+1] = '\n'
	return b
}

// stuffFile returns a -F file as it goes on the wire: each line ends in
// CRLF whatever ended it in the file (CRLF, LF or a CR alone), a last
// line without an ending gets CRLF, and a line that starts with "." gets
// one more. Nothing is added before the final dot, so the content
// ends where the file does.
func stuffFile(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/16+2)
	for len(raw) > 0 {
		end := bytes.IndexAny(raw, "\r\n")
		if end < 0 {
			return appendLine(out, raw)
		}
		out = appendLine(out, raw[:end])

		next := end + 1
		if raw[end] == '\r' && next < len(raw) && raw[next] == '\n' {
			next++
		}
		raw = raw[next:]
	}
	return out
}

// stuffFilePostfix returns a -F file as smtp-source 3.7 sends it: lines
// are split at LF only (a CR stays in its line, so a CRLF file gives
// "\r\r\n"), a line that starts with "." gets one more, each line gets
// CRLF, and one more CRLF (an empty line) follows the last. An empty
// file is no message to smtp-source: it sends its built-in body, still
// without headers.
func stuffFilePostfix(raw []byte) []byte {
	if len(raw) == 0 {
		return []byte(builtinBody)
	}
	out := make([]byte, 0, len(raw)+len(raw)/16+4)
	for len(raw) > 0 {
		line, rest, _ := bytes.Cut(raw, []byte{'\n'})
		out = appendLine(out, line)
		raw = rest
	}
	return append(out, "\r\n"...)
}

// appendLine appends one content line, dot-stuffed as RFC 5321 section
// 4.5.2 asks, and its CRLF.
func appendLine(dst, line []byte) []byte {
	if len(line) > 0 && line[0] == '.' {
		dst = append(dst, '.')
	}
	dst = append(dst, line...)
	return append(dst, "\r\n"...)
}

// LoadFile reads a -F message file. Its errors read like smtp-source's,
// with the C library's wording of the system error ("open PATH: No such
// file or directory", "read PATH: Is a directory"), and wrap the
// underlying error for errors.Is.
func LoadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}

	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, &fileError{op: pe.Op, path: path, err: pe.Err}
	}
	return nil, &fileError{op: "read", path: path, err: err}
}

// fileError is a failure to open or read a message file.
type fileError struct {
	op   string // "open" or "read"
	path string
	err  error
}

// Error returns "op path: reason" with the reason worded as strerror(3).
func (e *fileError) Error() string {
	return e.op + " " + e.path + ": " + strerror(e.err)
}

// Unwrap returns the underlying error.
func (e *fileError) Unwrap() error {
	return e.err
}

// strerror words err as glibc's strerror(3) does for the common cases:
// Go spells errno texts as glibc does, except for the first letter.
//
// TODO: a few errno texts differ beyond case (Go's table is older than
// glibc's); map them if a script ever depends on one.
func strerror(err error) string {
	s := err.Error()
	var errno syscall.Errno
	if !errors.As(err, &errno) || s == "" {
		return s
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	return s
}
