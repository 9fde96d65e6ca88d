package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBdat(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Config{Chunking: true, MaxChunk: 100,
		Dump: DumpConfig{Shared: filepath.Join(dir, "dump")}})
	c := dial(t, ts.addr)
	c.greet()

	// Chunks are read even when refused, so their bytes never run as
	// commands.
	c.send("BDAT 6\r\nQUIT\r\n")
	c.expect("503 5.5.1 Error: need RCPT command")
	c.send("BDAT x\r\nBDAT 1 FIRST\r\n")
	c.expect("501 5.5.4 Syntax: BDAT count [LAST]",
		"501 5.5.4 Syntax: BDAT count [LAST]")

	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 11\r\nline1\r\n.\r\nx" +
		"BDAT 8 LAST\r\n.\r\nend\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok", "250 2.0.0 Ok")

	// A chunk over the limit is refused and ends the transaction.
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 101\r\n" +
		strings.Repeat("z", 101) + "BDAT 1 LAST\r\nz")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"552 5.3.4 Error: BDAT chunk too large",
		"503 5.5.1 Error: need RCPT command")

	// DATA may not follow BDAT.
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT 1\r\nzDATA\r\nRSET\r\n" +
		"QUIT\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok",
		"503 5.5.1 Error: DATA after BDAT", "250 2.1.0 Ok", "221 Bye")
	c.eof(2 * time.Second)

	if st := ts.Stats(); st.Messages != 1 || st.Bytes != 19 {
		t.Errorf("stats %+v, want 1 message of 19 bytes", st)
	}
	time.Sleep(50 * time.Millisecond)
	b, _ := os.ReadFile(filepath.Join(dir, "dump"))
	if !strings.HasSuffix(string(b), "\nline1\n.\nx.\nend\n\n") {
		t.Errorf("dump:\n%q", b)
	}
}

func TestSize(t *testing.T) {
	ts := startServer(t, Config{Size: true, MaxSize: 10})
	c := dial(t, ts.addr)
	c.greet()
	c.send("MAIL FROM:<a> SIZE=11\r\nMAIL FROM:<a> size=10\r\n")
	c.expect("552 5.3.4 Message size exceeds fixed limit", "250 2.1.0 Ok")
	c.send("RCPT TO:<b>\r\nDATA\r\n")
	c.expect("250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>")
	c.send("12345678901234567890\r\n.\r\n")
	c.expect("552 5.3.4 Message size exceeds fixed limit")
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	c.send("1234\r\n.\r\n")
	c.expect("250 2.0.0 Ok")
}

func TestSMTPUTF8Dump(t *testing.T) {
	dir := t.TempDir()
	for _, utf8 := range []bool{false, true} {
		path := filepath.Join(dir, "dump")
		os.Remove(path)
		ts := startServer(t, Config{SMTPUTF8: utf8,
			Dump: DumpConfig{Shared: path}})
		c := dial(t, ts.addr)
		c.greet()
		c.send("MAIL FROM:<jörg@exämple.com> SMTPUTF8\r\n" +
			"RCPT TO:<b>\r\nDATA\r\n")
		c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
			"354 End data with <CR><LF>.<CR><LF>")
		c.send("x\r\n.\r\n")
		c.expect("250 2.0.0 Ok")
		ts.Close()
		b, _ := os.ReadFile(path)
		want := "X-Mail-Args: <j??rg@ex??mple.com> SMTPUTF8\n"
		if utf8 {
			want = "X-Mail-Args: <jörg@exämple.com> SMTPUTF8\n"
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("utf8 %v: dump lacks %q:\n%s", utf8, want, b)
		}
	}
}

// TestCounterCoalesces checks that a busy sink prints its counter a few
// times a second, not at every message, and ends with the final counts.
func TestCounterCoalesces(t *testing.T) {
	var out syncBuffer
	ts := startServer(t, Config{Counter: &out, MaxQuits: 1})
	start := time.Now()
	c := dial(t, ts.addr)
	c.greet()
	const n = 300
	for range n {
		c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
		c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
			"354 End data with <CR><LF>.<CR><LF>")
		c.send("x\r\n.\r\n")
		c.expect("250 2.0.0 Ok")
	}
	c.send("QUIT\r\n")
	c.expect("221 Bye")
	c.eof(2 * time.Second)
	if err := waitDone(ts); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	elapsed := time.Since(start)

	s := out.String()
	if !strings.HasSuffix(s, fmt.Sprintf("sess=1 quit=1 mesg=%d\r", n)) {
		t.Errorf("counter output ends %q", s[max(0, len(s)-40):])
	}
	lines := strings.Count(s, "\r")
	if most := int(elapsed/counterEvery) + 3; lines > most {
		t.Errorf("%d counter lines in %v for %d messages, want at "+
			"most %d", lines, elapsed, n, most)
	}
}

func TestCounter(t *testing.T) {
	var out syncBuffer
	ts := startServer(t, Config{Counter: &out, MaxQuits: 2})
	for i := 0; i < 2; i++ {
		c := dial(t, ts.addr)
		c.greet()
		c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
		c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
			"354 End data with <CR><LF>.<CR><LF>")
		c.send("x\r\n.\r\nQUIT\r\n")
		c.expect("250 2.0.0 Ok", "221 Bye")
		c.eof(2 * time.Second)
	}
	if err := waitDone(ts); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	s := out.String()
	if !strings.HasSuffix(s, "sess=2 quit=2 mesg=2\r") {
		t.Errorf("counter output %q", s)
	}
	if strings.Contains(s, "\n") {
		t.Errorf("counter output %q has a newline", s)
	}
}
