// Package scripttest runs scripted SMTP servers in process, so that tests
// can drive a client through exact, sometimes hostile, dialogues and learn
// precisely where it strayed.
//
// A script is a list of steps, one a line; blank lines and lines starting
// with # are ignored. The step name and its argument are separated by one
// space, and everything after that space is the argument, spaces included.
//
//	S text              send text and CRLF in one write
//	R text              send text as it is, in one write (no CRLF added)
//	C regex             read one command line; it must match regex
//	C? regex            as C, but a line that does not match (or none
//	                    within the step timeout, or EOF) is left for the
//	                    next step and is no deviation
//	DATA                read message content up to CRLF.CRLF
//	SLEEP s             pause s seconds (decimal, like 0.3)
//	ASSERT_SILENT s     the client must send nothing for s seconds
//	ASSERT_NOT s regex  for s seconds, no command line may match regex
//	TLS                 the server side of a TLS handshake
//	CLOSE               close the connection (see below)
//	RST                 close the connection with a TCP reset
//	EXPECT_EOF          the client must close the connection next
//	LABEL name          a place for GOTO and BRANCH
//	GOTO name           continue at LABEL name
//	BRANCH regex name   continue at LABEL name if the next command line
//	                    matches regex; the line is not consumed
//
// S and R decode the escapes \r, \n, \t and \\; any other backslash is
// kept as it is. Regexes are Go regexp syntax and case-sensitive, matched
// against the line without its CRLF. C and C? must match the whole line;
// BRANCH and ASSERT_NOT match its start, so "BRANCH RCPT rcpt" takes the
// branch on "RCPT TO:<a@example.com>".
//
// ASSERT_SILENT is how a script catches an EARLY-TALKER: a client that
// sends its next command while the server still owes it a reply. Bytes
// already buffered count as talking. Either way the bytes stay unread for
// the next step, and the script goes on.
//
// ASSERT_NOT consumes every line that arrives during its time. A line
// that matches is a deviation; other lines (a QUIT after a 421, say) are
// tolerated. EOF ends the step early and is no deviation.
//
// DATA is strict: only CRLF.CRLF ends the content (a dot line after a
// bare LF does not), bare CR and bare LF are deviations, and the content
// is kept both as sent and with the dot-stuffing removed.
//
// TLS throws away any plaintext the client sent after the command that
// asked for TLS, as a careful server does since Postfix's CVE-2011-0411,
// and reports it as PLAINTEXT; a client that sends plaintext where its
// ClientHello is due is reported as PLAINTEXT too. The certificate is a
// self-signed one for mx.example.com with no IP SANs, made when the test
// runs; see Server.CertPEM.
//
// A client that strays is reported as a Deviation. Those that leave the
// rest of the script meaningless (OFF-SCRIPT, EOF, TIMEOUT, a failed
// handshake) end the connection; EARLY-TALKER, FORBIDDEN, BARE-NEWLINE
// and discarded plaintext are recorded and the script goes on.
//
// CLOSE shuts the sending side without a TLS close_notify, reads what the
// client still sends (into the transcript, never a deviation) until it
// closes or a second passes, then closes, so the client gets a FIN rather
// than a reset. A script that runs off its end closes the same way.
package scripttest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Script is a parsed scripted server, ready for Start. One Script may be
// served by several servers at once.
type Script struct {
	steps []step
}

// op is the kind of a step.
type op int

const (
	opSend op = iota
	opRaw
	opCmd
	opMaybeCmd
	opData
	opSleep
	opSilent
	opNot
	opTLS
	opClose
	opRST
	opEOF
	opGoto
	opBranch
)

var ops = map[string]op{
	"S": opSend, "R": opRaw, "C": opCmd, "C?": opMaybeCmd,
	"DATA": opData, "SLEEP": opSleep, "ASSERT_SILENT": opSilent,
	"ASSERT_NOT": opNot, "TLS": opTLS, "CLOSE": opClose, "RST": opRST,
	"EXPECT_EOF": opEOF, "GOTO": opGoto, "BRANCH": opBranch,
}

// step is one line of a script.
type step struct {
	line  int            // line number in the script, for deviations
	op    op             // what the step does
	text  []byte         // S, R: the bytes to send
	pat   string         // C, C?, ASSERT_NOT, BRANCH: the regex as written
	re    *regexp.Regexp // pat, anchored
	d     time.Duration  // SLEEP, ASSERT_SILENT, ASSERT_NOT
	label string         // GOTO, BRANCH: where to go
	to    int            // label resolved to a step index
}

// Parse reads a script. Errors name the script line.
func Parse(script []byte) (*Script, error) {
	s := &Script{}
	labels := map[string]int{}
	for i, line := range strings.Split(string(script), "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}

		// A label names the index of the step that follows it.
		if name, ok := strings.CutPrefix(line, "LABEL "); ok {
			if _, dup := labels[name]; dup || name == "" {
				return nil, fmt.Errorf("line %d: bad or repeated label %q",
					i+1, name)
			}
			labels[name] = len(s.steps)
			continue
		}

		st, err := parseStep(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		st.line = i + 1
		s.steps = append(s.steps, st)
	}
	if len(s.steps) == 0 {
		return nil, errors.New("empty script")
	}
	return s, s.resolve(labels)
}

// resolve points every GOTO and BRANCH at its label.
func (s *Script) resolve(labels map[string]int) error {
	for i := range s.steps {
		st := &s.steps[i]
		if st.op != opGoto && st.op != opBranch {
			continue
		}
		to, ok := labels[st.label]
		if !ok {
			return fmt.Errorf("line %d: no label %q", st.line, st.label)
		}
		st.to = to
	}
	return nil
}

func parseStep(line string) (step, error) {
	name, arg, _ := strings.Cut(line, " ")
	op, ok := ops[name]
	if !ok {
		return step{}, fmt.Errorf("unknown step %q", name)
	}
	st := step{op: op}
	var err error
	switch op {
	case opSend:
		st.text = append(unescape(arg), "\r\n"...)
	case opRaw:
		st.text = unescape(arg)
	case opCmd, opMaybeCmd:
		err = st.compile(arg, "$")
	case opSleep, opSilent:
		st.d, err = seconds(arg)
	case opNot:
		secs, pat, _ := strings.Cut(arg, " ")
		if st.d, err = seconds(secs); err == nil {
			err = st.compile(pat, "")
		}
	case opGoto:
		st.label = arg
	case opBranch:
		cut := strings.LastIndexByte(arg, ' ')
		if cut < 0 {
			return st, errors.New("BRANCH needs a regex and a label")
		}
		st.label = arg[cut+1:]
		err = st.compile(arg[:cut], "")
	default:
		if arg != "" {
			err = fmt.Errorf("%s takes no argument", name)
		}
	}
	return st, err
}

// compile anchors pat at the start of the line, and at its end when
// tail is "$".
func (st *step) compile(pat, tail string) error {
	if pat == "" {
		return errors.New("missing regex")
	}
	re, err := regexp.Compile("^(?:" + pat + ")" + tail)
	if err != nil {
		return fmt.Errorf("bad regex: %w", err)
	}
	st.pat, st.re = pat, re
	return nil
}

func seconds(arg string) (time.Duration, error) {
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad seconds %q", arg)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// unescape decodes \r, \n, \t and \\, and keeps any other backslash.
func unescape(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			if d, ok := escapes[s[i+1]]; ok {
				c = d
				i++
			}
		}
		b = append(b, c)
	}
	return b
}

var escapes = map[byte]byte{'r': '\r', 'n': '\n', 't': '\t', '\\': '\\'}
