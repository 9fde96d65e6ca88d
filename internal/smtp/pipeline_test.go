package smtp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeConn is a connection whose server has its replies ready: it keeps
// every write apart, to tell one write from several.
type fakeConn struct {
	net.Conn // nil: only what Conn calls is implemented
	replies  *strings.Reader
	writes   []string
	closed   bool
}

func (f *fakeConn) Read(b []byte) (int, error) { return f.replies.Read(b) }

func (f *fakeConn) Write(b []byte) (int, error) {
	if f.closed {
		return 0, net.ErrClosed
	}
	f.writes = append(f.writes, string(b))
	return len(b), nil
}

func (f *fakeConn) SetDeadline(time.Time) error { return nil }

// steps records what an Observer is told.
type steps struct {
	phases []Phase
	codes  []int
	starts []time.Time
}

func (s *steps) Step(p Phase, start time.Time, _ time.Duration, r Reply,
	_ error) {
	s.phases = append(s.phases, p)
	s.codes = append(s.codes, r.Code)
	s.starts = append(s.starts, start)
}

func newFake(replies string, opt *Options) (*Pipeline, *fakeConn) {
	fc := &fakeConn{replies: strings.NewReader(replies)}
	return NewPipeline(NewConn(fc, opt)), fc
}

// A group goes out in one write; its replies are read in order, each
// step timed from that write.
func TestPipelineGroup(t *testing.T) {
	obs := &steps{}
	var traced []string
	opt := &Options{Observer: obs, Trace: func(out bool, l []byte) {
		if out {
			traced = append(traced, string(l))
		}
	}}
	p, fc := newFake("250 2.1.0 Ok\r\n550 5.1.1 no\r\n250 2.1.5 Ok\r\n"+
		"354 go\r\n", opt)

	p.Mail([]byte("s@example.com"), []byte(" SIZE=1234"))
	p.Rcpt([]byte("a@example.com"))
	p.Rcpt([]byte("b@example.com"))
	p.Data()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"MAIL FROM:<s@example.com> SIZE=1234\r\n" +
		"RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"}
	if diff := cmp.Diff(want, fc.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if len(traced) != 4 || traced[0] !=
		"MAIL FROM:<s@example.com> SIZE=1234" || traced[3] != "DATA" {
		t.Errorf("trace %q: want each command without CRLF", traced)
	}

	phases := []Phase{PhaseMail, PhaseRcpt, PhaseRcpt, PhaseData}
	codes := []int{250, 550, 250, 354}
	for i, ph := range phases {
		r, err := p.Reply(ph)
		if err != nil || r.Code != codes[i] {
			t.Fatalf("reply %d: %d %v, want %d", i, r.Code, err, codes[i])
		}
	}
	if diff := cmp.Diff(phases, obs.phases); diff != "" {
		t.Errorf("observed phases (-want +got):\n%s", diff)
	}
	for i, s := range obs.starts {
		if !s.Equal(obs.starts[0]) {
			t.Errorf("step %d timed from %v, step 0 from %v", i, s,
				obs.starts[0])
		}
	}
}

// Content starts a group that also opens the next transaction (RFC 2920
// section 3.1); the Dot hook runs once the group is written.
func TestPipelineContentThenNextGroup(t *testing.T) {
	dots := 0
	var p *Pipeline
	var fc *fakeConn
	opt := &Options{Dot: func() {
		dots++
		if len(fc.writes) != 1 {
			t.Error("Dot hook ran before the write")
		}
	}}
	p, fc = newFake("", opt)

	p.Content([]byte("Subject: x\r\n\r\n"), []byte("..dot\r\n"))
	p.Mail([]byte("s@example.com"), nil)
	p.Rcpt([]byte("r@example.com"))
	p.Data()
	if dots != 0 {
		t.Fatal("Dot hook ran before Flush")
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"Subject: x\r\n\r\n..dot\r\n.\r\n" +
		"MAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n"}
	if diff := cmp.Diff(want, fc.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if dots != 1 {
		t.Errorf("Dot hook ran %d times, want 1", dots)
	}

	// The next group has no content: no dot.
	p.Mail([]byte("s@example.com"), nil)
	p.Flush()
	if dots != 1 {
		t.Errorf("Dot hook ran for a group without content")
	}
}

func TestBDATChunks(t *testing.T) {
	cases := []struct {
		name       string
		head, body string
		size       int
		want       []string // one group per chunk
	}{
		{"one chunk", "ab", "cdefg", 0, []string{"BDAT 7 LAST\r\nabcdefg"}},
		{"chunk larger than content", "ab", "cdefg", 100,
			[]string{"BDAT 7 LAST\r\nabcdefg"}},
		{"across head and body", "ab", "cdefg", 3, []string{
			"BDAT 3\r\nabc", "BDAT 3\r\ndef", "BDAT 1 LAST\r\ng"}},
		{"head alone", "ab", "cdefg", 2, []string{
			"BDAT 2\r\nab", "BDAT 2\r\ncd", "BDAT 2\r\nef",
			"BDAT 1 LAST\r\ng"}},
		{"exact multiple", "", "abcd", 2, []string{
			"BDAT 2\r\nab", "BDAT 2 LAST\r\ncd"}},
		{"not stuffed", "", ".\r\n..\r\n", 0,
			[]string{"BDAT 7 LAST\r\n.\r\n..\r\n"}},
		{"empty", "", "", 0, []string{"BDAT 0 LAST\r\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, fc := newFake("", &Options{})
			off, chunks := 0, 0
			for last := false; !last; chunks++ {
				if chunks > len(tc.want) {
					t.Fatalf("more than %d chunks", len(tc.want))
				}
				off, last = p.BDAT([]byte(tc.head), []byte(tc.body),
					off, tc.size)
				p.Flush()
			}
			if diff := cmp.Diff(tc.want, fc.writes); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
		})
	}
}

// The reply to BDAT LAST is the end of data; earlier chunks' are data.
func TestBDATPhases(t *testing.T) {
	obs := &steps{}
	p, fc := newFake("250 1\r\n250 2\r\n", &Options{Observer: obs})
	off, last := p.BDAT(nil, []byte("abcd"), 0, 2)
	p.BDAT(nil, []byte("abcd"), off, 2)
	if last {
		t.Error("first of two chunks is the last")
	}
	p.Flush()
	if len(fc.writes) != 1 {
		t.Errorf("%d writes, want the two chunks in one", len(fc.writes))
	}
	p.Reply(PhaseData)
	p.Reply(PhaseEndOfData)
	if diff := cmp.Diff([]int{250, 250}, obs.codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

// A group that cannot be written fails as its first item's phase, and
// the group is gone.
func TestPipelineWriteError(t *testing.T) {
	obs := &steps{}
	p, fc := newFake("", &Options{Observer: obs})
	fc.closed = true
	p.Content(nil, []byte("x\r\n"))
	p.Mail(nil, nil)
	err := p.Flush()
	var ioe *IOError
	if !errors.As(err, &ioe) || ioe.Phase != PhaseEndOfData || ioe.Read {
		t.Fatalf("Flush = %v, want a write IOError in eod", err)
	}
	if len(obs.phases) != 1 || obs.phases[0] != PhaseEndOfData {
		t.Errorf("observed %v, want one eod step", obs.phases)
	}

	fc.closed = false
	p.Data()
	p.Flush()
	if diff := cmp.Diff([]string{"DATA\r\n"}, fc.writes); diff != "" {
		t.Errorf("after a failed group (-want +got):\n%s", diff)
	}
}

// A reply that does not come is a read error of its command's phase.
func TestPipelineReplyMissing(t *testing.T) {
	p, _ := newFake("250 ok\r\n", &Options{})
	p.Mail(nil, nil)
	p.Rcpt([]byte("r@example.com"))
	p.Flush()
	if _, err := p.Reply(PhaseMail); err != nil {
		t.Fatal(err)
	}
	_, err := p.Reply(PhaseRcpt)
	var ioe *IOError
	if !errors.As(err, &ioe) || ioe.Phase != PhaseRcpt || !ioe.Read ||
		!errors.Is(err, io.EOF) {
		t.Errorf("second reply: %v, want a read IOError in rcpt", err)
	}
}

// Large content goes out from where it is (writev), whole and in
// order, and a group then allocates nothing.
func TestPipelineLargeContent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		// A buffer grown up front: AllocsPerRun counts this
		// goroutine's allocations too.
		var b bytes.Buffer
		b.Grow(8 << 20)
		b.ReadFrom(c)
		got <- b.Bytes()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(NewConn(nc, &Options{}))

	body := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB
	head, sender, h := []byte("H: 1\r\n\r\n"), []byte("s"), []byte("h")
	group := func() {
		p.Content(head, body)
		p.Mail(sender, nil)
		p.BDAT(h, body, 0, 0)
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	group()
	allocs := testing.AllocsPerRun(20, group)
	nc.Close()

	one := "H: 1\r\n\r\n" + string(body) + ".\r\nMAIL FROM:<s>\r\n" +
		"BDAT 131073 LAST\r\nh" + string(body)
	if b := <-got; string(b) != strings.Repeat(one, 22) {
		t.Errorf("server got %d bytes, want 22 groups of %d", len(b),
			len(one))
	}
	if allocs != 0 {
		t.Errorf("%v allocations per group, want 0", allocs)
	}
}

func TestExtensions(t *testing.T) {
	p, _ := newFake("250-mx.example.com\r\n250-PIPELINING\r\n"+
		"250-SIZE 10240000\r\n250-chunking\r\n250 SMTPUTF8\r\n", &Options{})
	c := p.c
	if _, err := c.Hello("EHLO", "client"); err != nil {
		t.Fatal(err)
	}
	want := Extensions{Pipelining: true, Chunking: true, SMTPUTF8: true,
		Size: true}
	if got := c.Extensions(); got != want {
		t.Errorf("Extensions() = %+v, want %+v", got, want)
	}
	if n := testing.AllocsPerRun(10, func() { c.Extensions() }); n != 0 {
		t.Errorf("Extensions() allocates %v times", n)
	}

	p, _ = newFake("250 mx.example.com\r\n", &Options{})
	p.c.Hello("HELO", "client")
	if got := p.c.Extensions(); got != (Extensions{}) {
		t.Errorf("after HELO: %+v, want none", got)
	}
}
