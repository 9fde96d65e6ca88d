package interop_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// Where the client is pointed, relative to the sink.
const (
	toPlain     = iota // 127.0.0.1:PORT
	toInet             // inet:127.0.0.1:PORT
	toBracket          // [127.0.0.1]:PORT
	toLocalhost        // localhost:PORT (the -4 row)
	toIPv6             // [::1]:PORT, sink on ::1
	toUnix             // unix:/path
	toRefused          // a 127.0.0.1 port where nothing listens
)

// diffCase is one option set run by both clients.
type diffCase struct {
	name  string
	args  []string // options; the target is appended
	to    int      // one of the to* constants
	sink  []string // more smtp-sink options
	exit  int      // the exit status Postfix's client must have
	msgs  int      // transactions Postfix's client must leave in the dump
	nsets bool     // -N with sessions racing: compare recipients as a set
	trimF bool     // -F: ignore empty lines at the end of each message
	ours  []string // options for our client only
}

// diffCases covers every smtp-source option at least once.
var diffCases = []diffCase{
	{name: "defaults", msgs: 1},
	{name: "-4 localhost", args: []string{"-4"}, to: toLocalhost, msgs: 1},
	{name: "-6", args: []string{"-6", "-m", "2"}, to: toIPv6, msgs: 2},
	{name: "-A rcpt rejected", args: []string{"-A", "-m", "2"},
		sink: []string{"-r", "rcpt"}, msgs: 0},
	{name: "-c -s 2 -m 5", args: []string{"-c", "-s", "2", "-m", "5"},
		msgs: 5},
	{name: "-C 2", args: []string{"-C", "2", "-m", "2"}, msgs: 2},
	{name: "-C 2 refused", args: []string{"-C", "2"}, to: toRefused,
		exit: 1},
	{name: "-d -m 5", args: []string{"-d", "-m", "5"}, msgs: 5},
	{name: "-f sender", args: []string{"-f", "sender@example.com"},
		msgs: 1},
	{name: "-f null", args: []string{"-f", ""}, msgs: 1},
	{name: "-F lf", args: []string{"-F", "lf.eml", "-m", "2"}, msgs: 2,
		trimF: true},
	{name: "-F dots", args: []string{"-F", "dots.eml", "-d", "-m", "2"},
		msgs: 2, trimF: true},
	// smtp-source sends its built-in body for an empty file; ours, by
	// default, an empty message (unit-tested in internal/message).
	{name: "-F empty", args: []string{"-F", "empty.eml", "-m", "2"},
		msgs: 2, ours: []string{"--postfix-file-bytes"}},
	// NULs, bare CR, CRLF, dots, high bytes, a 3000-byte line, random
	// bytes and no newline at the end: byte for byte with
	// --postfix-file-bytes (by default ours ends a bare CR's line).
	{name: "-F binary", args: []string{"-F", "binary.eml", "-m", "2"},
		msgs: 2, ours: []string{"--postfix-file-bytes"}},
	{name: "-l 1", args: []string{"-l", "1"}, msgs: 1},
	{name: "-l 200", args: []string{"-l", "200", "-m", "2"}, msgs: 2},
	{name: "-l 100000", args: []string{"-l", "100000"}, msgs: 1},
	{name: "-L -r 2", args: []string{"-L", "-r", "2", "-m", "2"},
		sink: []string{"-L"}, msgs: 2},
	{name: "-m 10", args: []string{"-m", "10"}, msgs: 10},
	{name: "-M name", args: []string{"-M", "gst.example.net"}, msgs: 1},
	{name: "-M literal", args: []string{"-M", "[127.0.0.1]"}, msgs: 1},
	{name: "-N -m 3", args: []string{"-N", "-m", "3"}, msgs: 3},
	{name: "-N -r 3", args: []string{"-N", "-r", "3", "-m", "2"},
		msgs: 2},
	{name: "-N -r 2 -s 3", args: []string{"-N", "-r", "2", "-s", "3",
		"-m", "6"}, msgs: 6, nsets: true},
	{name: "-o", args: []string{"-o", "-m", "2"}, msgs: 2},
	{name: "-r 5", args: []string{"-r", "5"}, msgs: 1},
	{name: "-R 1", args: []string{"-R", "1", "-m", "2"}, msgs: 2},
	{name: "-s 5 -m 20", args: []string{"-s", "5", "-m", "20"}, msgs: 20},
	{name: "-s 10 -d -m 50", args: []string{"-s", "10", "-d", "-m", "50"},
		msgs: 50},
	{name: "-S subject", args: []string{"-S", "load test 1", "-m", "2"},
		msgs: 2},
	{name: "-t address", args: []string{"-t", "rcpt@example.com"},
		msgs: 1},
	{name: "-t noat", args: []string{"-t", "noat"}, msgs: 1},
	{name: "-T 4096", args: []string{"-T", "4096", "-l", "20000"},
		msgs: 1},
	{name: "-v", args: []string{"-v", "-m", "2"}, msgs: 2},
	{name: "-v -L -d", args: []string{"-v", "-L", "-d", "-m", "2"},
		sink: []string{"-L"}, msgs: 2},
	{name: "-w 1", args: []string{"-w", "1", "-m", "2"}, msgs: 2},
	{name: "unix target", args: []string{"-m", "2"}, to: toUnix, msgs: 2},
	{name: "inet: target", to: toInet, msgs: 1},
	{name: "bracket target", to: toBracket, msgs: 1},
	{name: "combined", args: []string{"-c", "-d", "-s", "3", "-m", "9",
		"-r", "2", "-S", "mix", "-f", "a@example.com", "-t",
		"b@example.net", "-l", "300"}, msgs: 9},
}

// TestSourceDifferential runs Postfix's smtp-source and ours with the
// same options, each into a fresh Postfix smtp-sink -D, and compares
// exit status, stdout, normalized stderr and the normalized, sorted
// transactions of the two dumps.
func TestSourceDifferential(t *testing.T) {
	postfix := postfixtest.SourcePath(t)
	sink := postfixtest.SinkPath(t)
	ours := postfixtest.SourceUnderTest(t)
	hasIPv6 := ipv6Loopback()

	for _, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			if c.to == toIPv6 && !hasIPv6 {
				t.Skip("skipping: no IPv6 loopback (::1)")
			}
			want := runDiffSide(t, postfix, sink, c)
			if want.res.ExitCode != c.exit {
				t.Fatalf("Postfix's smtp-source: exit %d, want %d\n%s",
					want.res.ExitCode, c.exit, want.res.Stderr)
			}
			if len(want.txs) != c.msgs {
				t.Fatalf("Postfix's smtp-source left %d transactions, "+
					"want %d", len(want.txs), c.msgs)
			}
			got := runDiffSide(t, ours, sink, c)
			compareSides(t, want, got)
		})
	}
}

// TestSourceHugeFile sends a 16 MiB -F file twice with each client
// and compares the dumps: smtp-source reads the file into memory once,
// and so do we; what goes on the wire must be the same.
func TestSourceHugeFile(t *testing.T) {
	postfix := postfixtest.SourcePath(t)
	sink := postfixtest.SinkPath(t)
	ours := postfixtest.SourceUnderTest(t)

	var b strings.Builder
	for i := 0; b.Len() < 16<<20; i++ {
		if i%100 == 0 {
			b.WriteString(".")
		}
		fmt.Fprintf(&b, "line %d of a huge message %s\n", i,
			strings.Repeat("x", i%70))
	}
	path := filepath.Join(t.TempDir(), "huge.eml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	c := diffCase{name: "huge", args: []string{"-F", path, "-d", "-m",
		"2"}, msgs: 2, trimF: true}
	want := runDiffSide(t, postfix, sink, c)
	if want.res.ExitCode != 0 || len(want.txs) != 2 {
		t.Fatalf("Postfix's smtp-source: exit %d, %d transactions\n%s",
			want.res.ExitCode, len(want.txs), want.res.Stderr)
	}
	got := runDiffSide(t, ours, sink, c)
	if got.res.ExitCode != 0 || len(got.txs) != 2 {
		t.Fatalf("ours: exit %d, %d transactions\n%s",
			got.res.ExitCode, len(got.txs), got.res.Stderr)
	}
	// Compared by size and digest: a diff of 16 MiB helps no one.
	for i := range got.txs {
		w, g := want.txs[i], got.txs[i]
		if len(g) < 16<<20 || sha256.Sum256([]byte(w)) !=
			sha256.Sum256([]byte(g)) {
			t.Errorf("message %d: ours %d bytes, Postfix's %d, or "+
				"their bytes differ", i, len(g), len(w))
		}
	}
}

// diffSide is what one client did in one row.
type diffSide struct {
	res    postfixtest.Result
	stderr string   // normalized
	txs    []string // normalized, sorted
	rcpts  []string // sorted X-Rcpt-Args values (nsets rows)
}

func runDiffSide(t *testing.T, bin, sinkBin string, c diffCase) diffSide {
	t.Helper()
	listen := postfixtest.Loopback4
	switch c.to {
	case toIPv6:
		listen = postfixtest.Loopback6
	case toUnix:
		listen = postfixtest.UnixSock
	}
	s := postfixtest.StartSinkAt(t, sinkBin, listen, true, c.sink...)

	args := slices.Clone(c.args)
	for i := range args {
		if i > 0 && args[i-1] == "-F" && !filepath.IsAbs(args[i]) {
			args[i] = filepath.Join("testdata", args[i])
		}
	}
	if !postfixtest.IsPostfix(bin) {
		args = append(args, c.ours...)
	}
	args = append(args, diffTarget(t, c.to, s.Addr))
	r := postfixtest.Run(t, 30*time.Second, bin, args...)

	side := diffSide{res: r, stderr: postfixtest.NormalizeStderr(r.Stderr)}
	dump := postfixtest.NormalizeDump(s.Dump(t))
	if c.nsets {
		side.rcpts = postfixtest.Recipients(dump)
		dump = rcptNumber.ReplaceAll(dump, []byte("X-Rcpt-Args: <N"))
	}
	side.txs = postfixtest.Transactions(dump)
	if c.trimF {
		// Postfix's client sends one empty line more before "." after
		// a -F file; ours, by design, sends the file as it is. Compare
		// the messages without empty lines at their end.
		for i, tx := range side.txs {
			side.txs[i] = strings.TrimRight(tx, "\n") + "\n"
		}
		slices.Sort(side.txs)
	}
	return side
}

// rcptNumber is the number -N puts before each recipient (Postfix 3.7
// style); sessions racing for the global counter spread the numbers
// over transactions differently from run to run.
var rcptNumber = regexp.MustCompile(`(?m)^X-Rcpt-Args: <\d+`)

func diffTarget(t *testing.T, to int, addr string) string {
	port := addr[strings.LastIndex(addr, ":")+1:]
	switch to {
	case toInet:
		return "inet:" + addr
	case toBracket:
		return "[127.0.0.1]:" + port
	case toLocalhost:
		return "localhost:" + port
	case toRefused:
		return closedPort(t)
	}
	return addr
}

func compareSides(t *testing.T, want, got diffSide) {
	t.Helper()
	if got.res.ExitCode != want.res.ExitCode {
		t.Errorf("exit status: postfix %d, ours %d",
			want.res.ExitCode, got.res.ExitCode)
	}
	for _, d := range []string{
		sameText("stdout", want.res.Stdout, got.res.Stdout),
		sameText("stderr (normalized)", want.stderr, got.stderr),
		sameList("transaction", want.txs, got.txs),
		sameList("recipient", want.rcpts, got.rcpts),
	} {
		if d != "" {
			t.Error(d)
		}
	}
}
