package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
)

// runLimit bounds one in-process run of the command. A run that takes
// longer is hanging: every case in this package finishes in seconds.
const runLimit = 15 * time.Second

// Prefixes of the command's Postfix-style diagnostic lines.
const (
	warnPrefix    = name + ": warning: "
	fatalPrefix   = name + ": fatal: "
	summaryPrefix = name + ": summary: "
)

// syncBuffer is a bytes.Buffer that the command's sessions may write to
// at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is what one run of the command left behind.
type result struct {
	args    []string
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration // wall time of run, setup included
}

// runCmd runs the command in-process with args and returns what it did.
// A run that panics or hangs fails the test at once.
func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	panicked := make(chan string, 1)
	start := time.Now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				panicked <- fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
		}()
		done <- run(args, &stdout, &stderr)
	}()

	select {
	case code := <-done:
		return result{args: args, code: code, stdout: stdout.String(),
			stderr: stderr.String(), elapsed: time.Since(start)}
	case p := <-panicked:
		t.Fatalf("run(%q) panicked: %s", args, p)
	case <-time.After(runLimit):
		t.Fatalf("run(%q) still running after %v; stderr so far:\n%s",
			args, runLimit, stderr.String())
	}
	panic("unreachable")
}

// lines returns the stderr lines, without their newlines, leaving out
// the summary table (indented lines after the summary line).
func (r result) lines() []string {
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" {
		return nil
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "  ") {
			out = append(out, l)
		}
	}
	return out
}

// diagnostics returns the text of the stderr lines that start with
// prefix, with the prefix removed.
func (r result) diagnostics(prefix string) []string {
	var out []string
	for _, l := range r.lines() {
		if text, ok := strings.CutPrefix(l, prefix); ok {
			out = append(out, text)
		}
	}
	return out
}

// counts are the numbers of the end-of-run summary line.
type counts struct {
	accepted, failed, sessions int64
}

var summaryRE = regexp.MustCompile(`^` + regexp.QuoteMeta(summaryPrefix) +
	`accepted=(\d+) failed=(\d+) sessions=(\d+) ` +
	`elapsed=\d+\.\d{3}s rate=\d+\.\d/s$`)

// summary parses the one summary line; there must be exactly one.
func (r result) summary(t *testing.T) counts {
	t.Helper()
	var found []counts
	for _, l := range r.lines() {
		if !strings.HasPrefix(l, summaryPrefix) {
			continue
		}
		m := summaryRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed summary line %q", l)
		}
		n := func(s string) int64 {
			v, _ := strconv.ParseInt(s, 10, 64)
			return v
		}
		found = append(found, counts{n(m[1]), n(m[2]), n(m[3])})
	}
	if len(found) != 1 {
		t.Fatalf("want one summary line, got %d in stderr:\n%s",
			len(found), r.stderr)
	}
	return found[0]
}

// want is what a run of the command should have done.
type want struct {
	code     int
	warnings []string // texts after "warning: ", in order
	fatal    string   // text after "fatal: ", exactly; "" for none
	fatalRE  string   // or a regexp the fatal text must match
	counts   counts   // the summary line
}

// check compares a run with w: exit status, every warning and fatal line,
// no other stderr line but the summary, and the summary's counts.
func (r result) check(t *testing.T, w want) {
	t.Helper()
	if r.code != w.code {
		t.Errorf("exit status %d, want %d", r.code, w.code)
	}
	if got := r.diagnostics(warnPrefix); !slices.Equal(got, w.warnings) {
		t.Errorf("warnings:\n got %q\nwant %q", got, w.warnings)
	}
	r.checkFatal(t, w)
	for _, l := range r.lines() {
		if !strings.HasPrefix(l, warnPrefix) &&
			!strings.HasPrefix(l, fatalPrefix) &&
			!strings.HasPrefix(l, summaryPrefix) {
			t.Errorf("stray stderr line %q", l)
		}
	}
	if got := r.summary(t); got != w.counts {
		t.Errorf("summary %+v, want %+v", got, w.counts)
	}
	if t.Failed() {
		t.Logf("go-smtp-source %s\nstderr:\n%s", strings.Join(r.args, " "),
			r.stderr)
	}
}

func (r result) checkFatal(t *testing.T, w want) {
	t.Helper()
	got := r.diagnostics(fatalPrefix)
	switch {
	case w.fatal == "" && w.fatalRE == "":
		if len(got) != 0 {
			t.Errorf("fatal lines %q, want none", got)
		}
	case len(got) != 1:
		t.Errorf("fatal lines %q, want one", got)
	case w.fatal != "" && got[0] != w.fatal:
		t.Errorf("fatal: %q\n          want %q", got[0], w.fatal)
	case w.fatalRE != "" && !regexp.MustCompile(w.fatalRE).MatchString(
		got[0]):
		t.Errorf("fatal: %q, want a match for `%s`", got[0], w.fatalRE)
	}
}

// postfixReply renders the lines' texts of a multi-line reply as
// smtp-source prints it in a diagnostic: it joins them with a newline,
// which Postfix's msg(3) then prints as '?', so that every diagnostic
// stays one line.
func postfixReply(lines ...string) string {
	return strings.Join(lines, "?")
}

// serverWait bounds how long a test waits for a scripted server to
// finish its connections.
const serverWait = 5 * time.Second

// startCase serves the hard case's script called name.
func startCase(t *testing.T, name string,
	opts ...scripttest.Option) *scripttest.Server {

	t.Helper()
	opts = append([]scripttest.Option{scripttest.WaitLimit(serverWait)},
		opts...)
	return scripttest.StartCase(t, name, opts...)
}

// startScript parses a scripted server written in the test and serves it.
func startScript(t *testing.T, script string,
	opts ...scripttest.Option) *scripttest.Server {

	t.Helper()
	s, err := scripttest.Parse([]byte(script))
	if err != nil {
		t.Fatalf("bad script: %v\n%s", err, script)
	}
	opts = append([]scripttest.Option{scripttest.WaitLimit(serverWait)},
		opts...)
	return scripttest.Start(t, s, opts...)
}

// checkServer waits for srv and fails the test for every deviation but
// those of the kinds allowed.
//
// Like smtp-source, the command closes its sockets with SO_LINGER {on, 0},
// so the server sees a reset where it would see EOF (the kit takes a
// reset at EXPECT_EOF as the close it is). When KindEOF is allowed (a
// client that aborts on a fatal error leaves the script early, as
// smtp-source does), a reset anywhere counts as EOF.
func checkServer(t *testing.T, srv *scripttest.Server,
	allowed ...scripttest.Kind) {

	t.Helper()
	for _, d := range srv.Wait() {
		reset := d.Kind == scripttest.KindIO &&
			strings.Contains(d.Msg, "connection reset by peer")
		switch {
		case reset && slices.Contains(allowed, scripttest.KindEOF):
		case slices.Contains(allowed, d.Kind):
		default:
			t.Error(d)
		}
	}
}

// commands splits a transcript into its command lines, CRLF removed.
func commands(transcript []byte) []string {
	s := strings.TrimSuffix(string(transcript), "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}

// countPrefix counts the lines that start with prefix.
func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// writeFile writes data to a new file called name in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	if data == nil {
		t.Fatalf("no fixture data for %s", name)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
