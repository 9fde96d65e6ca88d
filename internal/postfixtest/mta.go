package postfixtest

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// MTA is a running private Postfix instance (postmulti instance
// "postfix-gst", set up by test/postfix/mta.sh) that accepts mail from
// 127.0.0.0/8 for any recipient (example.com, example.net and
// smtp.example.com are its relay_domains) and discards it.
type MTA struct {
	Addr      string // smtpd with STARTTLS offered, "127.0.0.1:PORT"
	SMTPSAddr string // smtpd with implicit TLS, "127.0.0.1:PORT"
	LogPath   string // the instance's maillog_file, fresh for this start
}

// The lock that serialises StartMTA between test processes: there is
// one instance per machine.
const mtaLock = "/run/lock/go-smtp-source-postfix-gst.lock"

// StartMTA starts the private Postfix instance on two free 127.0.0.1
// ports and stops it at the end of the test. settings are extra
// main.cf "name=value" pairs, applied last (e.g. to relay to a sink
// instead of discarding). Only one test at a time, across processes,
// holds the instance; others wait for it.
//
// It needs root and Postfix; without them it skips (fails in CI).
func StartMTA(t testing.TB, settings ...string) *MTA {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "a private Postfix instance needs root")
	}
	postfixTool(t, "/usr/sbin/postmulti")
	postfixTool(t, "/usr/sbin/postfix")
	script := filepath.Join(ModuleRoot(t), "test", "postfix", "mta.sh")
	lockMTA(t)

	dir := sharedTempDir(t, "postfixtest-mta")
	m := &MTA{
		Addr:      "127.0.0.1:" + freePort(t),
		SMTPSAddr: "127.0.0.1:" + freePort(t),
		LogPath:   filepath.Join(dir, "maillog"),
	}
	_, port, _ := net.SplitHostPort(m.Addr)
	_, sport, _ := net.SplitHostPort(m.SMTPSAddr)
	args := append([]string{script, "start", port, sport, m.LogPath},
		settings...)
	// Registered before the start so a half-started instance stops too.
	t.Cleanup(func() {
		r := RunBounded(t, time.Minute, "bash", script, "stop")
		if r.ExitCode != 0 || r.TimedOut {
			t.Errorf("mta.sh stop: exit %d\n%s%s",
				r.ExitCode, r.Stdout, r.Stderr)
		}
	})
	r := Run(t, 2*time.Minute, "bash", args...)
	if r.ExitCode != 0 {
		t.Fatalf("mta.sh start: exit %d\n%s%s", r.ExitCode, r.Stdout,
			r.Stderr)
	}
	return m
}

// lockMTA takes the machine-wide instance lock until the test ends,
// waiting up to 5 minutes for another holder.
func lockMTA(t testing.TB) {
	t.Helper()
	os.MkdirAll(filepath.Dir(mtaLock), 0o755)
	f, err := os.OpenFile(mtaLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("mta lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("mta lock %s: %v", mtaLock, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Closing the file releases the lock; cleanups run last-in
	// first-out, so this runs after the instance has stopped.
	t.Cleanup(func() { f.Close() })
}

// freePort returns a 127.0.0.1 TCP port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// qmgr logs "from=<...>" once a message is safe in the queue, that is
// once smtpd could answer "250 ... queued as". A message deferred and
// retried is logged again, so queue ids are counted, not lines.
var queuedLine = regexp.MustCompile(
	`/qmgr\[\d+\]: ([0-9A-Za-z]+): ` +
		`from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)`)

// QueuedCount returns how many messages the instance has accepted since
// it started, judging by its log.
func (m *MTA) QueuedCount(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(m.LogPath)
	if err != nil {
		t.Fatalf("read maillog: %v", err)
	}
	ids := map[string]bool{}
	for _, sm := range queuedLine.FindAllSubmatch(b, -1) {
		ids[string(sm[1])] = true
	}
	return len(ids)
}

// WaitQueued polls QueuedCount until it reaches want or timeout passes,
// and returns the last count. Postfix logs through postlogd, a little
// behind the SMTP dialogue.
func (m *MTA) WaitQueued(t testing.TB, want int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := m.QueuedCount(t)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// MTAConfigDir is the private instance's configuration directory, for
// postqueue -c and postconf -c.
const MTAConfigDir = "/etc/postfix-gst"

// RelaySettings are the StartMTA settings that make the instance relay
// everything it accepts to addr ("127.0.0.1:PORT") over plain SMTP,
// with no DNS lookup, instead of discarding it.
func RelaySettings(addr string) []string {
	return []string{
		"default_transport=smtp",
		"relay_transport=smtp",
		"relayhost=[" + hostOf(addr) + "]:" + portOf(addr),
		"smtp_tls_security_level=none",
		"smtp_dns_support_level=disabled",
	}
}

// ShortRetrySettings make deferred mail come back within seconds: the
// queue manager scans the deferred queue every second and backs off a
// message for 1 to 2 seconds.
var ShortRetrySettings = []string{
	"queue_run_delay=1s",
	"minimal_backoff_time=1s",
	"maximal_backoff_time=2s",
}

// Flush asks the instance to retry its deferred mail now (postqueue
// -f).
func (m *MTA) Flush(t testing.TB) {
	t.Helper()
	r := Run(t, 30*time.Second, "/usr/sbin/postqueue", "-c", MTAConfigDir,
		"-f")
	if r.ExitCode != 0 {
		t.Errorf("postqueue -f: exit %d\n%s%s", r.ExitCode, r.Stdout,
			r.Stderr)
	}
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
