package postfixtest

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
)

// A smtp-sink dump (-d, -D) holds one record per transaction:
//
//	X-Client-Addr: 127.0.0.1
//	X-Client-Proto: SMTP
//	X-Helo-Args: vm                (only after HELO/EHLO/LHLO)
//	X-Mail-Args: <foo@vm>
//	X-Rcpt-Args: <foo@vm>          (one per accepted recipient)
//	Received: from vm ([127.0.0.1])
//		by smtp-sink (smtp-sink) with SMTP id 3d2e3e33;
//		Thu,  3 Dec 2026 15:36:12 +0000 (UTC)
//	<the message with CRs deleted and dots unstuffed>
//	<one empty line>
//
// The trace id and date, and the message's own Date: and Message-Id:
// header values, change from run to run.

const clientAddrField = "X-Client-Addr: "

var (
	// The second line of the sink's Received: header.
	receivedBy = regexp.MustCompile(
		`^\tby (\S+) \(([^)]*)\) with (\S+) id \S+;$`)
	dateHeader  = regexp.MustCompile(`(?i)^(date):`)
	msgIDHeader = regexp.MustCompile(`(?i)^(message-id):`)
)

// NormalizeDump rewrites the volatile parts of a smtp-sink dump: the
// Received: trace id becomes ID and its date line DATE; in each
// message's header section, Date: becomes "Date: DATE" and Message-Id:
// becomes "Message-Id: ID" (header names keep their case).
func NormalizeDump(b []byte) []byte {
	lines := strings.SplitAfter(string(b), "\n")
	var out strings.Builder
	inHeader, afterBy := false, false
	for _, line := range lines {
		text := strings.TrimSuffix(line, "\n")
		nl := line[len(text):]
		switch {
		case afterBy:
			// The date that ends the Received: header.
			afterBy, inHeader = false, true
			text = "\tDATE"
		case receivedBy.MatchString(text):
			afterBy = true
			text = receivedBy.ReplaceAllString(text,
				"\tby $1 ($2) with $3 id ID;")
		case inHeader && text == "":
			inHeader = false
		case inHeader && strings.HasPrefix(text, clientAddrField):
			// A message without header section or body.
			inHeader = false
		case inHeader:
			text = normalizeHeader(text)
		}
		out.WriteString(text + nl)
	}
	return []byte(out.String())
}

func normalizeHeader(line string) string {
	if m := dateHeader.FindStringSubmatch(line); m != nil {
		return m[1] + ": DATE"
	}
	if m := msgIDHeader.FindStringSubmatch(line); m != nil {
		return m[1] + ": ID"
	}
	return line
}

// Transactions splits a dump into its transactions, one per message,
// and returns them sorted so that runs with several sessions compare
// regardless of order. Each record loses the empty line the sink adds
// after the message. A record starts at an X-Client-Addr: line at the
// top or after an empty line; a message body holding such a line would
// be split there too. Normalize the dump first.
func Transactions(b []byte) []string {
	var recs []string
	var cur strings.Builder
	prevEmpty := true
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if prevEmpty && strings.HasPrefix(line, clientAddrField) &&
			cur.Len() > 0 {
			recs = append(recs, cur.String())
			cur.Reset()
		}
		cur.WriteString(line)
		prevEmpty = line == "\n"
	}
	if cur.Len() > 0 {
		recs = append(recs, cur.String())
	}
	for i, r := range recs {
		// A truncated record (no empty line) stays as it is.
		if strings.HasSuffix(r, "\n\n") {
			recs[i] = r[:len(r)-1]
		}
	}
	slices.Sort(recs)
	return recs
}

// Recipients returns every X-Rcpt-Args: value in a dump, sorted.
func Recipients(b []byte) []string {
	var rcpts []string
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("X-Rcpt-Args: ")); ok {
			rcpts = append(rcpts, string(bytes.TrimRight(v, "\n")))
		}
	}
	slices.Sort(rcpts)
	return rcpts
}

var (
	// The program name that starts each diagnostic: argv[0] for
	// Postfix's tools ("smtp-source: ", "/usr/sbin/smtp-source: "), the
	// base name or path for ours.
	progPrefix = regexp.MustCompile(
		`(?m)^(?:\S*/)?(?:go-)?smtp-(?:source|sink)(?:\[\d+\])?: `)
	// The program name that a usage message repeats.
	usageProg = regexp.MustCompile(
		`usage: (?:\S*/)?(?:go-)?smtp-(?:source|sink) `)
	// Lines that are not part of the behaviour we compare: debug lines
	// of Postfix's libraries under -v, and our end-of-run summary, which
	// Postfix's client does not have.
	dropLine = regexp.MustCompile(`^PROG: (?:` +
		`name_mask: |smtp_stream_setup: |vstream_tweak_tcp: |` +
		`fd=\d+: stream buffer size |` +
		`summary: )`)
)

// NormalizeStderr makes diagnostics from Postfix's tools and ours
// comparable: the program name prefix becomes "PROG: " (and "usage:
// PROG " in a usage message), and lines that
// differ by design go: debug lines of Postfix's libraries under -v
// (name_mask, smtp_stream_setup, vstream_tweak_tcp, stream buffer size)
// and our end-of-run summary ("PROG: summary: accepted=... ...", and
// the table indented below it).
func NormalizeStderr(s string) string {
	s = progPrefix.ReplaceAllString(s, "PROG: ")
	s = usageProg.ReplaceAllString(s, "usage: PROG ")
	var out strings.Builder
	table := false
	for _, line := range strings.SplitAfter(s, "\n") {
		if table && strings.HasPrefix(line, "  ") {
			continue
		}
		table = strings.HasPrefix(line, "PROG: summary: ")
		if line == "" || dropLine.MatchString(line) {
			continue
		}
		out.WriteString(line)
	}
	return out.String()
}

// Diagnostics returns the warning: and fatal: lines of normalized
// stderr, in order.
func Diagnostics(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "PROG: warning: ") ||
			strings.HasPrefix(line, "PROG: fatal: ") {
			out = append(out, line)
		}
	}
	return out
}
