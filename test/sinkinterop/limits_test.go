package sinkinterop_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// lastCounter returns the "quit=... mesg=..." of the last -c line. The
// "sess=" count is left out: the harness may dial once to see whether
// the sink listens, and that session counts.
func lastCounter(stdout string) string {
	f := strings.Split(strings.TrimSuffix(stdout, "\r"), "\r")
	last := f[len(f)-1]
	if i := strings.Index(last, " quit="); i >= 0 {
		return last[i+1:]
	}
	return "no counter: " + last
}

// waitExit waits for a sink to end by itself.
func waitExit(s *postfixtest.Sink, limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); {
		if s.Exited() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// TestLimitsDifferential compares -c, -n and -M: the counters, whether
// the sink exits, and what smtp-source says.
func TestLimitsDifferential(t *testing.T) {
	cases := []struct {
		name string
		sink []string
		src  []string
		exit bool // the sink must end by itself
	}{
		{"-c", []string{"-c"}, []string{"-s", "2", "-m", "5", "-d"}, false},
		{"-c -n 2", []string{"-c", "-n", "2"}, []string{"-m", "2"}, true},
		{"-M 2", []string{"-c", "-M", "2"}, []string{"-d", "-m", "3"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := postfixtest.SourcePath(t)
			var counters, diags [2]string
			for i, bin := range []string{postfixtest.SinkPath(t),
				postfixtest.SinkUnderTest(t)} {
				s := postfixtest.StartSink(t, bin, false, c.sink...)
				r := postfixtest.Run(t, 30*time.Second, src,
					append(c.src, s.Addr)...)
				wait := 300 * time.Millisecond
				if c.exit {
					wait = 5 * time.Second
				}
				if exited := waitExit(s, wait); exited != c.exit {
					t.Errorf("%s: exited %v, want %v", bin, exited, c.exit)
				}
				s.Stop()
				counters[i] = lastCounter(s.Stdout())
				diags[i] = strings.Join(diagnostics(r.Stderr), "\n") +
					" exit " + strconv.Itoa(r.ExitCode)
			}
			if counters[0] != counters[1] {
				t.Errorf("counter %q, Postfix's %q", counters[1],
					counters[0])
			}
			if diags[0] != diags[1] {
				t.Errorf("smtp-source: %q, against Postfix %q", diags[1],
					diags[0])
			}
		})
	}
}

// TestPrivileges runs go-smtp-sink as root with -u nobody and -R: the
// dump is written inside the new root, by nobody.
func TestPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: -u and -R need root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("skipping: no user nobody")
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.Mkdir(filepath.Join(root, "d"), 0o755)
	os.Chmod(filepath.Join(root, "d"), 0o777)
	s := postfixtest.StartSink(t, postfixtest.SinkUnderTest(t), false,
		"-u", "nobody", "-R", root, "-d", "/d/m.")
	r := postfixtest.Run(t, 30*time.Second, postfixtest.SourcePath(t),
		s.Addr)
	if r.ExitCode != 0 {
		t.Fatalf("smtp-source exit %d\n%s\nsink:\n%s", r.ExitCode,
			r.Stderr, s.Stderr())
	}
	files, _ := filepath.Glob(filepath.Join(root, "d", "m.*"))
	if len(files) != 1 {
		t.Fatalf("dump files %v\nsink stderr:\n%s", files, s.Stderr())
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if uid != nobody.Uid {
		t.Errorf("dump owned by uid %s, want nobody (%s)", uid, nobody.Uid)
	}
	if strings.Contains(s.Stderr(), "running as root") {
		t.Errorf("root warning despite -u:\n%s", s.Stderr())
	}
}
