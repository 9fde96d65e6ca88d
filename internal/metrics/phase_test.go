package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestPhaseNames(t *testing.T) {
	want := []string{
		"connect", "banner", "helo", "starttls", "auth", "mail", "rcpt",
		"data", "eod", "rset", "quit", "transaction", "session",
		"transaction_from_intended",
	}
	if int(NumPhases) != len(want) {
		t.Fatalf("NumPhases = %d, want %d", NumPhases, len(want))
	}
	for i, name := range want {
		p := Phase(i)
		if p.String() != name {
			t.Errorf("Phase(%d) = %q, want %q", i, p, name)
		}
		if q, ok := ParsePhase(name); !ok || q != p {
			t.Errorf("ParsePhase(%q) = %v, %v", name, q, ok)
		}
	}
	if _, ok := ParsePhase("MAIL"); ok {
		t.Error("ParsePhase accepted an upper-case name")
	}
	if got := Rcpt.verb(); got != "RCPT" {
		t.Errorf("verb = %q", got)
	}
}

func TestParseEnhanced(t *testing.T) {
	cases := []struct {
		text string
		want string
	}{
		{"2.1.0 Ok", "2.1.0"},
		{"5.1.1", "5.1.1"},
		{"4.7.100 rate limited", "4.7.100"},
		{"5.7.1\tdenied", "5.7.1"},
		{"2.0.0\nsecond line", "2.0.0"},
		{"Ok", ""},
		{"", ""},
		{"3.1.0 class 3 does not exist", ""},
		{"2.1 short", ""},
		{"2.1.", ""},
		{"2..0 empty subject", ""},
		{"2.1000.0 long subject", ""},
		{"2.1.0000 long detail", ""},
		{"2.1.0x no space", ""},
		{"25.1.0", ""},
	}
	for _, c := range cases {
		if got := ParseEnhanced(c.text).String(); got != c.want {
			t.Errorf("ParseEnhanced(%q) = %q, want %q",
				c.text, got, c.want)
		}
		b := ParseEnhanced([]byte(c.text))
		if b != ParseEnhanced(c.text) {
			t.Errorf("ParseEnhanced(%q): bytes and string differ", c.text)
		}
	}
}

func TestParseEnhancedDoesNotAllocate(t *testing.T) {
	text := []byte("5.1.1 no such user")
	var e Enhanced
	n := testing.AllocsPerRun(100, func() { e = ParseEnhanced(text) })
	if n != 0 || e == 0 {
		t.Errorf("%v allocations, code %v", n, e)
	}
}

func TestClassify(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: err}
	}
	cases := []struct {
		err  error
		want Kind
	}{
		{nil, KindNone},
		{op(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
			KindRefused},
		{op(os.NewSyscallError("read", syscall.ECONNRESET)), KindReset},
		{op(os.NewSyscallError("write", syscall.EPIPE)), KindReset},
		{op(os.ErrDeadlineExceeded), KindTimeout},
		{fmt.Errorf("eod: %w", context.DeadlineExceeded), KindTimeout},
		{fmt.Errorf("banner: %w", io.EOF), KindEOF},
		{io.ErrUnexpectedEOF, KindEOF},
		{fmt.Errorf("starttls: %w", tls.AlertError(40)), KindTLS},
		{tls.RecordHeaderError{Msg: "bad"}, KindTLS},
		{errors.New("tls: handshake failure"), KindTLS},
		{errors.New("something else"), KindOther},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestClassifyDial checks a real refused connection and a real timeout.
func TestClassifyDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.DialTimeout("tcp", addr, time.Second)
	if got := Classify(err); got != KindRefused {
		t.Errorf("dial closed port: %v is %v, want refused", err, got)
	}

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	if got := Classify(err); got != KindTimeout {
		t.Errorf("read past deadline: %v is %v, want timeout", err, got)
	}
}

func TestNames(t *testing.T) {
	if Unknown.String() != "unknown" || Outcome(9).String() != "outcome(9)" {
		t.Error("outcome names")
	}
	if KindTLS.String() != "tls" || Kind(99).String() != "kind(99)" {
		t.Error("kind names")
	}
	if Phase(99).String() != "phase(99)" {
		t.Error("phase name")
	}
}
