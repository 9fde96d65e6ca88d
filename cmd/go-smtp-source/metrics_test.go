package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// startTestSink runs go-smtp-sink in-process with the given faults.
func startTestSink(t *testing.T, faults ...string) (*sink.Server, string) {
	t.Helper()
	cfg := sink.Config{Seed: 42}
	for _, f := range faults {
		fault, err := sink.ParseFault(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Faults = append(cfg.Faults, fault)
	}
	return sinktest.Start(t, cfg)
}

// runForResult runs the command with --out and decodes the result.
func runForResult(t *testing.T, args ...string) *metrics.Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	var stdout, stderr bytes.Buffer
	args = append([]string{"--out", out}, args...)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	res := readResult(t, out)
	return res
}

// The latencies are the server's, phase by phase: a delay injected on
// DATA shows in the DATA phase only.
func TestPhaseLatencyFollowsTheServer(t *testing.T) {
	const delay = 50 * time.Millisecond
	_, addr := startTestSink(t, "data:100%:delay=50ms")
	res := runForResult(t, "-s", "4", "-m", "40", "-d", addr)

	if got := res.Messages.Accepted; got != 40 {
		t.Fatalf("accepted %d, want 40", got)
	}
	p50 := func(phase string) time.Duration {
		l := res.Latency.Phases[phase]
		if l == nil || l.Count == 0 {
			t.Fatalf("no %s latencies", phase)
		}
		return time.Duration(l.ValueAt(50))
	}
	if d := p50("data"); d < delay {
		t.Errorf("data p50 %v, want at least %v", d, delay)
	}
	for _, phase := range []string{"mail", "rcpt", "eod"} {
		if d := p50(phase); d >= delay {
			t.Errorf("%s p50 %v, want well under %v", phase, d, delay)
		}
	}
	if d := p50("transaction"); d < delay {
		t.Errorf("transaction p50 %v, want at least %v", d, delay)
	}
}

// The result's counts are the sink's counts, with rejects injected.
func TestCountsMatchTheSink(t *testing.T) {
	srv, addr := startTestSink(t, "rcpt:20%:450", ".:10%:554")
	res := runForResult(t, "-A", "-s", "5", "-m", "300", "-d", "-r", "2",
		addr)
	st := srv.Stats()

	if res.Messages.Accepted != st.Messages-st.Refused ||
		st.Refused == 0 {
		t.Errorf("accepted %d, sink got %d messages and refused %d",
			res.Messages.Accepted, st.Messages, st.Refused)
	}
	if res.Recipients.Accepted != res.Replies["RCPT 250"] {
		t.Errorf("recipients accepted %d, RCPT 250 replies %d",
			res.Recipients.Accepted, res.Replies["RCPT 250"])
	}
	if res.Recipients.Rejected != res.Replies["RCPT 450"] ||
		res.Recipients.Rejected == 0 {
		t.Errorf("recipients rejected %d, RCPT 450 replies %d",
			res.Recipients.Rejected, res.Replies["RCPT 450"])
	}
	m := res.Messages
	if m.Attempted != 300 || m.Error != 0 || m.Unknown != 0 {
		t.Errorf("messages %+v, want 300 attempted, no errors", m)
	}
	if m.PermFail != res.Replies["EOD 554"] || m.PermFail == 0 {
		t.Errorf("permfail %d, EOD 554 replies %d", m.PermFail,
			res.Replies["EOD 554"])
	}
	// A message is a tempfail when both its recipients were refused.
	if m.Accepted+m.TempFail+m.PermFail != 300 {
		t.Errorf("outcomes do not add up: %+v", m)
	}
	if res.Sessions.Opened != 5 || res.Sessions.Done != 5 {
		t.Errorf("sessions %+v, want 5 opened and done", res.Sessions)
	}
}

func readResult(t *testing.T, path string) *metrics.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := metrics.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The built-in sink offers what the client is asked to use: STARTTLS,
// implicit TLS and CHUNKING work against "sink:" with no server set up.
func TestBuiltinSinkOffersWhatIsAsked(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		reply string // a reply that shows the feature was used
		tls   bool
		bdat  bool // content went as BDAT: no DATA 354
	}{
		{"starttls", []string{"--starttls"}, "STARTTLS 220", true, false},
		{"smtps", []string{"--smtps"}, "", true, false},
		{"chunking", []string{"--chunking"}, "EOD 250", false, true},
		{"lmtp", []string{"-L", "-r", "2"}, "HELO 250", false, false},
		{"all", []string{"--starttls", "--chunking", "--pipelining", "-d",
			"-s", "2"}, "STARTTLS 220", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runForResult(t, append(c.args, "-m", "6", "sink:")...)
			if res.Messages.Accepted != 6 {
				t.Errorf("accepted %d of 6", res.Messages.Accepted)
			}
			if c.reply != "" && res.Replies[c.reply] == 0 {
				t.Errorf("no %q reply: %v", c.reply, res.Replies)
			}
			if n := res.Replies["EOD 250"]; c.name == "lmtp" && n != 12 {
				// LMTP: one reply per recipient after ".".
				t.Errorf("EOD 250 replies %d, want 12 (LMTP)", n)
			}
			if n := res.Replies["DATA 354"]; (n == 0) != c.bdat {
				t.Errorf("DATA 354 replies %d, BDAT wanted: %v", n,
					c.bdat)
			}
			if got := res.TLS != nil && res.TLS.Handshakes() > 0; got !=
				c.tls {
				t.Errorf("TLS used: %v, want %v (%+v)", got, c.tls,
					res.TLS)
			}
		})
	}
}

// An open-model run that the server cannot keep up with shows it in the
// counts: the messages due before the end of --duration that no session
// was free to start are late and dropped, not missing.
func TestDurationCountsUnsentAsDropped(t *testing.T) {
	_, addr := startTestSink(t, "rcpt:100%:delay=1500ms")
	res := runForResult(t, "--duration", "1s", "--rate", "10", addr)

	m, s := res.Messages, res.Schedule
	if m.Attempted != 1 {
		t.Errorf("attempted %d, want 1 (one session, busy 1.5 s)",
			m.Attempted)
	}
	// Messages 0..9 were due in the first second; 0 was sent.
	if s.Dropped != 9 || s.Late != 9 {
		t.Errorf("schedule %+v, want 9 late and 9 dropped", s)
	}
}

// A pause (-w, -R) that outlasts --duration ends the run at its end:
// no message starts after it.
func TestDurationEndsPauses(t *testing.T) {
	_, addr := startTestSink(t)
	for _, pause := range [][]string{{"-w", "5"}, {"-R", "5", "--seed", "1"}} {
		start := time.Now()
		args := append([]string{"--duration", "1s", "-d", "-s", "2"},
			pause...)
		res := runForResult(t, append(args, addr)...)
		took := time.Since(start)

		// -w 5 lets each session send its first message only; -R
		// may draw pauses of 0 s, which send at once.
		n := res.Messages.Attempted
		if n < 2 || pause[0] == "-w" && n != 2 {
			t.Errorf("%v: attempted %d, want 2 with -w, 2 or more "+
				"with -R", pause, n)
		}
		if took > 3*time.Second {
			t.Errorf("%v: took %v, want about 1s", pause, took)
		}
	}
}

// The built-in sink's warnings are marked as the sink's, so that its
// side of a failure does not read as the client's.
func TestBuiltinSinkWarningsSaySink(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--starttls", "--tls-verify", "--tls-server-name",
		"localhost", "-m", "1", "--no-summary", "sink:"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the sink's certificate is self-made)",
			code)
	}
	want := "go-smtp-source: warning: sink: TLS handshake failed"
	if !bytes.Contains(stderr.Bytes(), []byte(want)) {
		t.Errorf("stderr has no %q:\n%s", want, stderr.String())
	}
}

// A paced run whose sessions are always free in time has no late or
// dropped sends, however late the timers wake the sessions: late means
// that no session was free at a message's time. When none is, the
// message is late.
func TestRateLateOnlyWithoutFreeSession(t *testing.T) {
	_, addr := startTestSink(t)
	res := runForResult(t, "--rate", "100/s", "-m", "100", "-s", "10",
		"-d", "--max-lateness", "1ms", addr)
	if m, s := res.Messages, res.Schedule; m.Accepted != 100 ||
		s.Late != 0 || s.Dropped != 0 {
		t.Errorf("free sessions: accepted %d, schedule %+v; want 100 "+
			"accepted, none late or dropped", m.Accepted, s)
	}

	// One session, busy 100 ms per message, at 100/s: every message
	// after the first is behind its time when the session frees up.
	_, slow := startTestSink(t, "rcpt:100%:delay=100ms")
	res = runForResult(t, "--rate", "100/s", "-m", "4", "-s", "1", "-d",
		slow)
	if m, s := res.Messages, res.Schedule; m.Accepted != 4 ||
		s.Late != 3 || s.Dropped != 0 {
		t.Errorf("busy session: accepted %d, schedule %+v; want 4 "+
			"accepted, 3 late", m.Accepted, s)
	}
}
