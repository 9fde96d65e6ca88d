package postfixtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Where Debian's dovecot-core package installs Dovecot.
const dovecotBin = "/usr/sbin/dovecot"

// SASL is a private Dovecot that serves SASL authentication to
// Postfix's smtpd (smtpd_sasl_type = dovecot) over a Unix socket, for
// the users of a passwd-file, with PLAIN, LOGIN and CRAM-MD5. It runs
// no mail protocol.
type SASL struct {
	Socket  string // the auth socket, for smtpd_sasl_path
	LogPath string // Dovecot's log
}

// StartSASL starts Dovecot's auth service for users (name to password)
// and stops it at the end of the test. It needs root and Dovecot;
// without them it skips (fails in CI).
func StartSASL(t testing.TB, users map[string]string) *SASL {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "a private Dovecot needs root")
	}
	if !isExecutable(dovecotBin) {
		Missing(t, "Dovecot (Debian's dovecot-core) is not installed")
	}

	// smtpd runs as Postfix's mail_owner and Dovecot's auth service
	// as its own user: both must reach the files.
	dir := sharedTempDir(t, "postfixtest-sasl")
	s := &SASL{
		Socket:  filepath.Join(dir, "run", "auth-postfix"),
		LogPath: filepath.Join(dir, "dovecot.log"),
	}
	conf := filepath.Join(dir, "dovecot.conf")
	writeFile(t, filepath.Join(dir, "passwd"), passwdFile(users))
	writeFile(t, conf, dovecotConf(dir))

	cmd := exec.Command(dovecotBin, "-F", "-c", conf)
	out, err := os.Create(filepath.Join(dir, "dovecot.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	t.Cleanup(func() { stopDovecot(t, cmd) })

	up := func() bool { return dials("unix", s.Socket) }
	if !waitFor(10*time.Second, up) {
		t.Fatalf("dovecot: no auth socket %s after 10s\n%s", s.Socket,
			readAll(out.Name(), s.LogPath))
	}
	return s
}

// Settings returns the main.cf settings, for StartMTA, that make smtpd
// offer AUTH through s and accept mail only from clients that
// authenticated.
func (s *SASL) Settings() []string {
	return []string{
		"smtpd_sasl_auth_enable=yes",
		"smtpd_sasl_type=dovecot",
		"smtpd_sasl_path=" + s.Socket,
		"smtpd_relay_restrictions=permit_sasl_authenticated, reject",
		"smtpd_recipient_restrictions=permit_sasl_authenticated, reject",
	}
}

// passwdFile writes users in Dovecot's passwd-file format, with
// plain-text passwords, which CRAM-MD5 needs.
func passwdFile(users map[string]string) []byte {
	var b strings.Builder
	for name, pw := range users {
		fmt.Fprintf(&b, "%s:{PLAIN}%s\n", name, pw)
	}
	return []byte(b.String())
}

// dovecotConf is a whole Dovecot configuration living in dir.
func dovecotConf(dir string) []byte {
	return []byte(fmt.Sprintf(`# Written by go-smtp-source's postfixtest.
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[1]s/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
`, dir))
}

// stopDovecot asks Dovecot's master to stop, which stops its children,
// and kills it if it has not within 10 seconds.
func stopDovecot(t testing.TB, cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("dovecot (pid %d) did not stop; killed", cmd.Process.Pid)
		cmd.Process.Kill()
		<-done
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls ok every 50 ms until it holds or d has passed.
func waitFor(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// readAll returns the contents of the files that exist, for a
// failure's message.
func readAll(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			b.Write(data)
		}
	}
	return b.String()
}
