package main

import (
	"bytes"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// busyAddr returns an address that a listener of the test holds, so
// that the sink's own listen fails.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// A start that fails after the --out file was opened leaves no file
// where there was none, and an existing file as it was.
func TestOutFailedStart(t *testing.T) {
	cases := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"listen", func(t *testing.T) []string {
			return []string{busyAddr(t), "10"}
		}},
		{"user", func(t *testing.T) []string {
			return []string{"-u", "no-such-user-x", "127.0.0.1:0", "10"}
		}},
	}
	for _, c := range cases {
		for _, old := range []string{"", "earlier result\n"} {
			name := c.name + "/new"
			if old != "" {
				name = c.name + "/existing"
			}
			t.Run(name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "x.json")
				if old != "" {
					err := os.WriteFile(out, []byte(old), 0o644)
					if err != nil {
						t.Fatal(err)
					}
				}
				argv := append([]string{"go-smtp-sink", "--out", out},
					c.args(t)...)
				var stdout, stderr bytes.Buffer
				st := run(argv, &stdout, &stderr)
				if st != cli.ExitFatal {
					t.Fatalf("exit %d, want %d\n%s", st,
						cli.ExitFatal, stderr.String())
				}
				if !strings.Contains(stderr.String(), "fatal: ") {
					t.Errorf("no fatal error:\n%s", stderr.String())
				}
				got, err := os.ReadFile(out)
				switch {
				case old == "" && !os.IsNotExist(err):
					t.Errorf("%s left behind: %q, %v", out, got, err)
				case old != "" && string(got) != old:
					t.Errorf("%s: %q, %v; want %q kept", out, got, err,
						old)
				}
			})
		}
	}
}

// A --out that is a symbolic link to a missing file gets the file
// created at startup; a failed start removes that file and keeps the
// link.
func TestOutDanglingLink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "x.json"), filepath.Join(dir, "l")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	st := run([]string{"go-smtp-sink", "--out", link, busyAddr(t), "10"},
		&stdout, &stderr)
	if st != cli.ExitFatal {
		t.Fatalf("exit %d, want %d\n%s", st, cli.ExitFatal,
			stderr.String())
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", target, err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("link removed: %v", err)
	}
}

// A run that starts replaces an existing --out file with its result
// document, with nothing of the old content left after it.
func TestOutReplacesFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.json")
	junk := strings.Repeat("earlier, longer content\n", 1000)
	if err := os.WriteFile(out, []byte(junk), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"go-smtp-sink", "--no-summary", "-n", "1",
			"--out", out, addr, "10"}, &stdout, &stderr)
	}()
	if err := sendOne(addr); err != nil {
		t.Fatalf("send: %v", err)
	}
	select {
	case st := <-done:
		if st != cli.ExitOK {
			t.Fatalf("exit %d\n%s", st, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sink still running after -n 1")
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := metrics.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if d := res.Delivery; d == nil || d.Unstamped != 1 {
		t.Errorf("delivery %+v, want 1 unstamped arrival", d)
	}
}

// sendOne sends one message to addr, waiting a little for the sink to
// listen.
func sendOne(addr string) error {
	var c *smtp.Client
	var err error
	for range 100 {
		if c, err = smtp.Dial(addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail("a@example.com"); err != nil {
		return err
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
