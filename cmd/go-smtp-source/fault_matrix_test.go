package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// faultCommands are the commands smtp-sink's fault options name that a
// smtp-source session meets ("rset" never: smtp-source sends no RSET,
// so a fault there must change nothing).
var faultCommands = []string{
	"connect", "helo", "mail", "rcpt", "data", ".", "rset", "quit",
}

// faultFlags are smtp-sink's per-command fault options.
var faultFlags = []struct {
	flag string
	act  sink.Action
}{
	{"f", sink.ActHardReject},
	{"r", sink.ActSoftReject},
	{"q", sink.ActDisconnect},
	{"Q", sink.ActClose},
}

// limit bounds one run of the matrix. A run without sink delays ends in
// well under a second, one with them in a few; a run that takes longer
// waits on a timeout it should not meet.
func (r matrixRow) limit() time.Duration {
	if r.delayed() {
		return 15 * time.Second
	}
	return 5 * time.Second
}

// matrixRow is one fault set on the sink and one way to run the source.
type matrixRow struct {
	name   string
	flag   string // smtp-sink option: a fault, or A, w, W
	cmd    string // the command it names, or its argument
	fault  string // or a --fault of ours
	source []string
}

// sinkDelays are smtp-sink's timed faults, as option and argument: -A
// (after 354, read no more and reply 550 at once, then hang up), -w
// (a second before the reply to DATA) and -W (a second before one
// RCPT reply in ten, or more: the odds roll again after a hit).
var sinkDelays = [][2]string{{"A", "0"}, {"w", "1"}, {"W", "rcpt:1:10"}}

// delayed says whether the sink waits before some replies.
func (r matrixRow) delayed() bool {
	return r.flag == "w" || r.flag == "W" ||
		strings.Contains(r.fault, "delay=")
}

// sinkArgs are smtp-sink's options for the row.
func (r matrixRow) sinkArgs() []string {
	return []string{"-" + r.flag, r.cmd}
}

// sinkConfig is the go-smtp-sink configuration of the row, as
// go-smtp-sink's options would build it.
func (r matrixRow) sinkConfig(t *testing.T) sink.Config {
	cfg := sink.Config{Seed: 7}
	if r.fault != "" {
		f, err := sink.ParseFault(r.fault)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Faults = []sink.Fault{f}
		return cfg
	}
	switch r.flag {
	case "A":
		cfg.Abort = true // -A 0
		return cfg
	case "w":
		cfg.Delays[sink.CmdData] = sink.Delay{Delay: time.Second}
		return cfg
	case "W":
		cfg.Delays[sink.CmdRcpt] = sink.Delay{Delay: time.Second,
			Odds: 10}
		return cfg
	}
	cmd, err := sink.ParseCommand(r.cmd)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faultFlags {
		if f.flag == r.flag {
			cfg.Actions[cmd] |= f.act
		}
	}
	// smtp-sink turns PIPELINING off for -f and -r.
	cfg.NoPipelining = r.flag == "f" || r.flag == "r"
	return cfg
}

// matrixRows builds the matrix: every sink fault (each fault option on
// each command, the timed faults, percentage faults of ours) under
// every way to run the source: with and without -A, with and without
// -d, with -s 1 and -s 50.
func matrixRows() []matrixRow {
	type fault struct{ flag, cmd, pct string }
	var faults []fault
	for _, f := range faultFlags {
		for _, c := range faultCommands {
			faults = append(faults, fault{f.flag, c, ""})
		}
	}
	for _, d := range sinkDelays {
		faults = append(faults, fault{d[0], d[1], ""})
	}
	for _, pf := range []string{
		"rcpt:40%:450", ".:40%:554", "mail:30%:disconnect",
		"connect:30%:421", "data:30%:delay=20ms",
	} {
		faults = append(faults, fault{"", "", pf})
	}

	var rows []matrixRow
	for _, f := range faults {
		for _, src := range matrixSources(f.flag) {
			name := f.pct
			if name == "" {
				name = "-" + f.flag + "_" + f.cmd
			}
			name += "/" + strings.Join(src, "_")
			rows = append(rows, matrixRow{name, f.flag, f.cmd, f.pct,
				src})
		}
	}
	return rows
}

// matrixSources are the eight ways to run the source against a sink
// fault: -s 1 and -s 50, each with and without -d and -A. A second's
// delay on every DATA (-w) allows fewer messages in one session.
func matrixSources(flag string) [][]string {
	one := "20"
	if flag == "w" {
		one = "3"
	}
	var out [][]string
	for _, s := range [][]string{{"-s", "1", "-m", one},
		{"-s", "50", "-m", "60"}} {
		for _, d := range [][]string{nil, {"-d"}} {
			for _, a := range [][]string{nil, {"-A"}} {
				v := slices.Concat(s, d, a)
				out = append(out, v)
			}
		}
	}
	return out
}

// matrixRun is what one run of the source left behind.
type matrixRun struct {
	r   result
	res *metrics.Result
}

// runMatrix runs the source with args against addr, with a result
// document, and checks what holds for every fault: the run ends in
// time, the result's outcomes add up, and the exit status is 0 or 1.
func runMatrix(t *testing.T, addr string, row matrixRow) matrixRun {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.json")
	// The timeout stays clear of the sink's delays: -W's can add up
	// to a few seconds when its odds hit again and again.
	timeout := "2s"
	if row.delayed() {
		timeout = "8s"
	}
	args := append(append([]string{"--out", out, "--reply-timeout",
		timeout}, row.source...), addr)
	start := time.Now()
	r := runCmd(t, args...)
	if d := time.Since(start); d > row.limit() {
		t.Errorf("run took %v, want under %v", d, row.limit())
	}
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d, want 0 or 1:\n%s", r.code, r.stderr)
	}
	res := readResult(t, out)
	m := res.Messages
	if sum := m.Accepted + m.TempFail + m.PermFail + m.Error +
		m.Unknown; sum != m.Attempted {
		t.Errorf("outcomes add up to %d, attempted %d: %+v", sum,
			m.Attempted, m)
	}
	// The source's side of a leak: a session it never closed.
	if ss := res.Sessions; ss.Opened != ss.Done {
		t.Errorf("sessions opened %d, ended %d", ss.Opened, ss.Done)
	}
	return matrixRun{r, res}
}

// wantExit is smtp-source's exit status for a fault. A reject (-f, -r,
// a 4xx or 5xx fault) is fatal without -A and a warning with it; a hang
// up (-q, -Q, disconnect) is a lost connection, fatal either way.
// Faults at commands smtp-source never waits on change nothing.
func (r matrixRow) wantExit() int {
	abort := true
	for _, a := range r.source {
		if a == "-A" {
			abort = false
		}
	}
	switch {
	case r.cmd == "rset" || r.cmd == "quit":
		// smtp-source sends no RSET, and ignores the reply to QUIT.
		return 0
	case r.delayed():
		return 0
	case r.flag == "A":
		// The 550 answers the end of data; the hang-up after it is
		// met by the next command, or by none.
		return -1
	case r.flag == "q" || r.flag == "Q" ||
		strings.HasSuffix(r.fault, "disconnect") ||
		strings.HasSuffix(r.fault, ":421"):
		return -1 // checked by the interop suite against smtp-source
	case abort:
		return 1
	}
	return 0
}

func (r matrixRow) checkExit(t *testing.T, got int) {
	t.Helper()
	if w := r.wantExit(); w >= 0 && got != w {
		t.Errorf("exit %d, want %d", got, w)
	}
}

// TestFaultMatrix runs the source against go-smtp-sink with every fault
// and checks that the result's counts are the sink's, exactly, and that
// nothing leaks.
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("fault matrix skipped in -short mode")
	}
	fds := openFDs(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	t.Run("rows", func(t *testing.T) {
		for _, row := range matrixRows() {
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				srv, addr := sinktest.Start(t, row.sinkConfig(t))
				run := runMatrix(t, addr, row)
				row.checkExit(t, run.r.code)
				st := sinkSettled(t, srv)
				sunk, rcpts := row.sinkCounts(st)
				checkSinkCounts(t, run, sunk, rcpts)
				if t.Failed() {
					t.Logf("stderr:\n%s", run.r.stderr)
				}
			})
		}
	})
	checkFDs(t, fds)
}

// checkSinkCounts compares the result with the sink's count of
// accepted messages, sunk, and of their recipients, rcpts (-1: not
// comparable). A run that ends without a fatal error has finished
// every transaction, so the counts are equal. A fatal error cuts the
// transactions in flight short: the sink may have accepted some whose
// reply the source never read, and the source counts those unknown.
func checkSinkCounts(t *testing.T, run matrixRun, sunk, rcpts int64) {
	t.Helper()
	m, got := run.res.Messages, run.res.Recipients.Accepted
	if len(run.r.diagnostics(fatalPrefix)) == 0 {
		if m.Accepted != sunk {
			t.Errorf("accepted %d, sink accepted %d", m.Accepted, sunk)
		}
		if rcpts >= 0 && got != rcpts {
			t.Errorf("recipients accepted %d, sink %d", got, rcpts)
		}
		return
	}
	if m.Accepted > sunk || sunk > m.Accepted+m.Unknown {
		t.Errorf("accepted %d, unknown %d, sink accepted %d",
			m.Accepted, m.Unknown, sunk)
	}
	if rcpts >= 0 && got < rcpts {
		t.Errorf("recipients accepted %d, fewer than the sink's %d",
			got, rcpts)
	}
}

// sinkSettled returns the sink's statistics once it holds no session:
// the source has exited, so every connection is closed at its end, and
// a session still open after a moment is a leak.
func sinkSettled(t *testing.T, srv *sink.Server) sink.Stats {
	t.Helper()
	var st sink.Stats
	for range 100 {
		if st = srv.Stats(); st.Active == 0 {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("sink: %d sessions still open 2s after the source exited",
		st.Active)
	return st
}

// sinkCounts are go-smtp-sink's counts for checkSinkCounts.
func (r matrixRow) sinkCounts(st sink.Stats) (sunk, rcpts int64) {
	sunk, rcpts = st.Messages-st.Refused, st.Recipients
	// The sink counts the recipients of transactions that reach the
	// end of data: faults at DATA, or a hang-up before its reply,
	// leave accepted recipients it never counts.
	// Nor does it count those of a transaction it aborts (-A).
	if r.cmd == "data" || strings.HasPrefix(r.fault, "data:") ||
		(r.cmd == "." && (r.flag == "q" || r.flag == "Q")) ||
		r.flag == "A" {
		rcpts = -1
	}
	return sunk, rcpts
}

// TestFaultMatrixPostfix runs the matrix's smtp-sink fault options
// against Postfix's smtp-sink and checks the result's accepted count
// against the transactions in its dump.
func TestFaultMatrixPostfix(t *testing.T) {
	if testing.Short() {
		t.Skip("fault matrix skipped in -short mode")
	}
	bin := postfixtest.SinkPath(t)
	fds := openFDs(t)

	t.Run("rows", func(t *testing.T) {
		for _, row := range matrixRows() {
			if row.fault != "" {
				continue // ours only
			}
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				postfixRow(t, bin, row)
			})
		}
	})
	checkFDs(t, fds)
}

func postfixRow(t *testing.T, bin string, row matrixRow) {
	s := postfixtest.StartSink(t, bin, true, row.sinkArgs()...)
	run := runMatrix(t, s.Addr, row)
	row.checkExit(t, run.r.code)
	txs := postfixtest.Transactions(postfixtest.NormalizeDump(s.Dump(t)))
	sunk := int64(len(txs))
	if row.cmd == "." {
		// smtp-sink dumps a transaction before it replies to the
		// final dot, so one refused or hung up on there is dumped too.
		sunk = 0
	}
	checkSinkCounts(t, run, sunk, -1)
	if t.Failed() {
		t.Logf("stderr:\n%s", run.r.stderr)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// checkFDs fails the test when more descriptors are open than before.
// Closed sockets leave the table at once, but give stragglers of
// sessions just ended a moment.
func checkFDs(t *testing.T, before int) {
	t.Helper()
	var now int
	for range 50 {
		if now = openFDs(t); now <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d file descriptors open, %d before: leaked", now, before)
}
