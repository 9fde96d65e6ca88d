package interop_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// smtpdCommands sums the command counts of smtpd's "disconnect from"
// lines ("... ehlo=1 mail=100 rcpt=100 bdat=100 quit=1 commands=302"),
// by command.
func smtpdCommands(t *testing.T, logPath string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	word := regexp.MustCompile(`^([a-z]+)=(\d+)(?:/\d+)?$`)
	for _, line := range strings.Split(string(b), "\n") {
		_, stats, ok := strings.Cut(line, "/smtpd[")
		if !ok || !strings.Contains(stats, "]: disconnect from ") {
			continue
		}
		for _, f := range strings.Fields(stats) {
			if m := word.FindStringSubmatch(f); m != nil {
				n, _ := strconv.Atoi(m[2])
				counts[m[1]] += n
			}
		}
	}
	return counts
}

// TestESMTPThroughPostfixMTA sends 1000 messages over 10 sessions to a
// real Postfix smtpd with PIPELINING and with CHUNKING, and checks
// that Postfix queued every one, took them with the commands asked for,
// and saw no improper pipelining.
func TestESMTPThroughPostfixMTA(t *testing.T) {
	ours := postfixtest.SourceUnderTest(t)
	const msgs = 1000
	tests := []struct {
		name string
		opts []string
		want map[string]int // smtpd's command counts
	}{
		{"pipelining", []string{"--pipelining", "-d"},
			map[string]int{"mail": msgs, "rcpt": msgs, "data": msgs}},
		{"chunking", []string{"--chunking"},
			map[string]int{"mail": msgs, "rcpt": msgs, "bdat": msgs}},
		// Chunks of 256 bytes: a 1000-byte payload plus the headers
		// (under 250 bytes) make 5 chunks, all in the envelope's write.
		{"pipelined chunks", []string{"--pipelining", "--chunking",
			"--chunk-size", "256", "-l", "1000", "-d"},
			map[string]int{"mail": msgs, "rcpt": msgs, "bdat": 5 * msgs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mta := postfixtest.StartMTA(t)
			// A reply that never comes fails the run with the
			// stage named, well before the test's bound.
			args := append([]string{"-s", "10", "-m", "1000",
				"-f", "sender@example.com", "-t", "rcpt@example.com",
				"--reply-timeout", "60s", "--banner-timeout", "60s"},
				tt.opts...)
			r := postfixtest.RunBounded(t, 3*time.Minute, ours,
				append(args, mta.Addr)...)
			if r.TimedOut || r.ExitCode != 0 {
				t.Fatalf("exit %d (killed at 3m: %v), Postfix queued "+
					"%d\n%s\nPostfix's log ends:\n%s", r.ExitCode,
					r.TimedOut, mta.QueuedCount(t), r.Stderr,
					logTail(mta.LogPath, 40))
			}
			t.Logf("%d messages in %v", msgs,
				r.Elapsed.Round(time.Millisecond))

			mta.WaitQueued(t, msgs, 30*time.Second)
			time.Sleep(500 * time.Millisecond) // room for a surplus
			if n := mta.QueuedCount(t); n != msgs {
				t.Errorf("Postfix queued %d messages, want %d (log %s)",
					n, msgs, mta.LogPath)
			}
			got := smtpdCommands(t, mta.LogPath)
			for cmd, n := range tt.want {
				if got[cmd] != n {
					t.Errorf("smtpd counted %s=%d, want %d (all: %v)",
						cmd, got[cmd], n, got)
				}
			}
			log, _ := os.ReadFile(mta.LogPath)
			if strings.Contains(string(log), "improper command pipelining") {
				t.Errorf("Postfix saw improper pipelining (log %s)",
					mta.LogPath)
			}
		})
	}
}

// logTail returns the last n lines of the file at path, for a failure
// message.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
