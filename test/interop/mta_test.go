package interop_test

import (
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// TestSourceThroughPostfixMTA sends 1000 messages over 10 sessions to a
// real Postfix smtpd and checks that Postfix queued every one of them.
func TestSourceThroughPostfixMTA(t *testing.T) {
	ours := postfixtest.SourceUnderTest(t)
	mta := postfixtest.StartMTA(t)

	const msgs = 1000
	r := postfixtest.Run(t, 3*time.Minute, ours, "-s", "10", "-m", "1000",
		"-f", "sender@example.com", "-t", "rcpt@example.com", mta.Addr)
	if r.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", r.ExitCode, r.Stderr)
	}
	t.Logf("%d messages in %v", msgs, r.Elapsed.Round(time.Millisecond))

	// Postfix logs through postlogd, a little behind the dialogue.
	mta.WaitQueued(t, msgs, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // room for a surplus to show
	if n := mta.QueuedCount(t); n != msgs {
		t.Errorf("Postfix queued %d messages, want %d (log %s)",
			n, msgs, mta.LogPath)
	}
}
