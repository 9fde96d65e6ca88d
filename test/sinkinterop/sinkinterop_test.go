// Package sinkinterop_test runs Postfix's smtp-source against Postfix's
// smtp-sink and against go-smtp-sink with the same options and checks
// that the client sees the same thing: the same dump (-D) after
// normalising times and ids, and for the fault options the same exit
// status and the same warnings.
package sinkinterop_test

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// runTimeout bounds one smtp-source run.
const runTimeout = 30 * time.Second

// side is what one sink left: the client's result and the dump.
type side struct {
	res   postfixtest.Result
	dump  []string
	sinkE string
}

// runSide starts sinkBin with sinkArgs, points Postfix's smtp-source at
// it with srcArgs and returns what happened.
func runSide(t *testing.T, sinkBin, listen string, sinkArgs,
	srcArgs []string) side {
	t.Helper()
	src := postfixtest.SourcePath(t)
	s := postfixtest.StartSinkAt(t, sinkBin, listen, true, sinkArgs...)
	args := append(slices.Clone(srcArgs), s.Addr)
	res := postfixtest.Run(t, runTimeout, src, args...)
	dump := postfixtest.Transactions(postfixtest.NormalizeDump(s.Dump(t)))
	return side{res: res, dump: dump, sinkE: s.Stderr()}
}

// both runs the same options against both sinks, in parallel.
func both(t *testing.T, listen string, sinkArgs, srcArgs []string) (
	postfix, ours side) {
	t.Helper()
	pf := postfixtest.SinkPath(t)
	gs := postfixtest.SinkUnderTest(t)
	var wg sync.WaitGroup
	wg.Go(func() { postfix = runSide(t, pf, listen, sinkArgs, srcArgs) })
	ours = runSide(t, gs, listen, sinkArgs, srcArgs)
	wg.Wait()
	return postfix, ours
}

func testdata(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
}

// TestDumpDifferential compares the -D dumps of both sinks.
func TestDumpDifferential(t *testing.T) {
	cases := []struct {
		name   string
		listen string
		sink   []string
		src    []string
		msgs   int
	}{
		{name: "defaults", src: []string{"-m", "3"}, msgs: 3},
		{name: "sessions and recipients",
			src: []string{"-s", "3", "-m", "6", "-r", "3"}, msgs: 6},
		{name: "reused session", src: []string{"-d", "-m", "4"}, msgs: 4},
		{name: "helo", src: []string{"-o", "-m", "2"}, msgs: 2},
		{name: "lmtp", sink: []string{"-L"},
			src: []string{"-L", "-r", "2", "-m", "2"}, msgs: 2},
		{name: "hostname and prefix",
			sink: []string{"-h", "sink.example", "-S", `START\tX\n`},
			// With a prefix the records no longer split: one.
			src: []string{"-M", "client.example", "-m", "2"}, msgs: 1},
		{name: "no esmtp", sink: []string{"-e"},
			src: []string{"-m", "2"}, msgs: 2},
		{name: "pix", sink: []string{"-P"}, src: []string{"-m", "1"},
			msgs: 1},
		{name: "quiet ehlo",
			sink: []string{"-a", "-C", "-F", "-8", "-E", "-N", "-p"},
			src:  []string{"-d", "-m", "3"}, msgs: 3},
		{name: "sender and recipient", src: []string{"-f", "s@example.com",
			"-t", "r@example.com", "-S", "subject here", "-m", "2"},
			msgs: 2},
		{name: "numbered recipients", src: []string{"-N", "-r", "3",
			"-m", "2"}, msgs: 2},
		{name: "dots and bare lf",
			src: []string{"-F", testdata("dots.eml"), "-m", "2"}, msgs: 2},
		{name: "lf file", src: []string{"-F", testdata("lf.eml")}, msgs: 1},
		{name: "large", src: []string{"-l", "200000", "-m", "2"}, msgs: 2},
		{name: "unix", listen: postfixtest.UnixSock,
			src: []string{"-m", "2"}, msgs: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			listen := c.listen
			if listen == "" {
				listen = postfixtest.Loopback4
			}
			pf, gs := both(t, listen, c.sink, c.src)
			if pf.res.ExitCode != 0 || len(pf.dump) != c.msgs {
				t.Fatalf("Postfix side: exit %d, %d transactions, "+
					"want 0, %d\nstderr:\n%s", pf.res.ExitCode,
					len(pf.dump), c.msgs, pf.res.Stderr)
			}
			if gs.res.ExitCode != 0 {
				t.Errorf("smtp-source exit %d against go-smtp-sink\n%s"+
					"\nsink stderr:\n%s", gs.res.ExitCode, gs.res.Stderr,
					gs.sinkE)
			}
			compareDumps(t, pf.dump, gs.dump)
		})
	}
}

// TestDumpDifferentialIPv6 checks the ipv6: prefix of X-Client-Addr.
func TestDumpDifferentialIPv6(t *testing.T) {
	if !ipv6Loopback() {
		t.Skip("skipping: no IPv6 loopback")
	}
	pf, gs := both(t, postfixtest.Loopback6, nil, []string{"-m", "2"})
	if len(pf.dump) != 2 {
		t.Fatalf("Postfix side: %d transactions\n%s", len(pf.dump),
			pf.res.Stderr)
	}
	compareDumps(t, pf.dump, gs.dump)
}

func compareDumps(t *testing.T, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d transactions, Postfix's smtp-sink has %d\n"+
			"ours:\n%s\nPostfix:\n%s", len(got), len(want),
			strings.Join(got, "\n--\n"), strings.Join(want, "\n--\n"))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("transaction %d differs\nours:\n%q\nPostfix:\n%q",
				i, got[i], want[i])
		}
	}
}

// faultCommands are the commands the fault options are tried on.
var faultCommands = []string{"connect", "helo", "mail", "rcpt", "data",
	".", "rset", "quit"}

// TestFaultDifferential runs each smtp-sink fault option on each
// command: smtp-source must end with the same status and the same
// warnings against both sinks, and leave the same dump.
func TestFaultDifferential(t *testing.T) {
	src := []string{"-d", "-m", "2", "-r", "2"}
	type fcase struct {
		name string
		sink []string
		src  []string
	}
	var cases []fcase
	for _, opt := range []string{"-f", "-r", "-q", "-Q"} {
		for _, cmd := range faultCommands {
			cases = append(cases, fcase{opt + " " + cmd,
				[]string{opt, cmd}, src})
		}
	}
	for _, cmd := range faultCommands {
		cases = append(cases, fcase{"-W " + cmd + ":1",
			[]string{"-W", cmd + ":1"}, []string{"-m", "1"}})
	}
	cases = append(cases,
		fcase{"-f rcpt lmtp", []string{"-L", "-f", "rcpt"},
			[]string{"-L", "-d", "-m", "2", "-r", "2"}},
		fcase{"-r . lmtp", []string{"-L", "-r", "."},
			[]string{"-L", "-m", "1", "-r", "3"}},
		fcase{"-A 0", []string{"-A", "0"}, src},
		fcase{"-A 1", []string{"-A", "1"}, []string{"-m", "1"}},
		fcase{"-w 1", []string{"-w", "1"}, []string{"-m", "1"}},
		fcase{"-W .:1:50", []string{"-W", ".:1:50"}, []string{"-m", "2"}},
		fcase{"-b -B", []string{"-b", "451 4.7.1 Try later", "-B",
			"554 5.7.1 No", "-r", "mail", "-f", "rcpt"}, src},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pf, gs := both(t, postfixtest.Loopback4, c.sink, c.src)
			if pf.res.ExitCode != gs.res.ExitCode {
				t.Errorf("exit %d, Postfix's side %d", gs.res.ExitCode,
					pf.res.ExitCode)
			}
			want := diagnostics(pf.res.Stderr)
			got := diagnostics(gs.res.Stderr)
			t.Logf("exit %d, %q", pf.res.ExitCode, want)
			if !slices.Equal(want, got) {
				t.Errorf("smtp-source said\n%s\nPostfix's side\n%s",
					strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			compareDumps(t, pf.dump, gs.dump)
		})
	}
}

// diagnostics returns smtp-source's warning and fatal lines.
func diagnostics(stderr string) []string {
	return postfixtest.Diagnostics(postfixtest.NormalizeStderr(stderr))
}

func ipv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
