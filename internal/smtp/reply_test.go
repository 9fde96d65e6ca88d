package smtp

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	cases := []struct {
		name, in string
		code     int
		text     string
		rest     string // what must be left unread
	}{
		{"single", "250 ok\r\n", 250, "ok", ""},
		{"no text", "250\r\n", 250, "", ""},
		{"trailing space", "250 \r\n", 250, "", ""},
		{"bare LF", "250 ok\n", 250, "ok", ""},
		{"multi-line", "250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
			250, "mx\nPIPELINING\nSIZE 10", ""},
		{"stops after last line", "220 hi\r\n250 next\r\n", 220, "hi",
			"250 next\r\n"},
		{"last line decides", "220-mx ESMTP\r\n521 5.7.1 blocked\r\n",
			521, "mx ESMTP\n5.7.1 blocked", ""},
		{"four digits", "2500 x\r\n", 0, "x", ""},
		{"two digits", "25 x\r\n", 0, "x", ""},
		{"no digits", "hello\r\n", 0, "hello", ""},
		{"censored", "550 a\x01b\xffc\r\n", 550, "a?b?c", ""},
		{"multi-line 550", "550-5.1.1 one\r\n550-5.1.1 two\r\n" +
			"550 5.1.1 three - gsmtp\r\n", 550,
			"5.1.1 one\n5.1.1 two\n5.1.1 three - gsmtp", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(c.in), 16)
			r, err := readReply(br, &replyBuf{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != c.code || string(r.Text) != c.text {
				t.Errorf("got %d %q, want %d %q", r.Code, r.Text,
					c.code, c.text)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != c.rest {
				t.Errorf("left %q unread, want %q", rest, c.rest)
			}
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	for _, in := range []string{"", "250-more\r\n", "250 no newline"} {
		br := bufio.NewReader(strings.NewReader(in))
		_, err := readReply(br, &replyBuf{}, nil)
		if err == nil {
			t.Errorf("%q: no error", in)
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: got %v, want EOF", in, err)
		}
	}
}

// A hostile server's 1 MB line costs us at most MaxReplyText bytes, and
// the stream stays in step after it.
func TestReadReplyLongLine(t *testing.T) {
	long := "550 " + strings.Repeat("x", 1<<20) + "\r\n250 ok\r\n"
	br := bufio.NewReaderSize(strings.NewReader(long), 4096)
	var b replyBuf
	r, err := readReply(br, &b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 550 || len(r.Text) != MaxReplyText-4 {
		t.Errorf("got code %d, %d bytes of text", r.Code, len(r.Text))
	}
	if cap(b.text) > 2*MaxReplyText || cap(b.line) > 2*MaxReplyText {
		t.Errorf("kept buffers of %d and %d bytes", cap(b.text),
			cap(b.line))
	}
	r, err = readReply(br, &b, nil)
	if err != nil || r.Code != 250 {
		t.Errorf("next reply: %v %v", r, err)
	}
}

func TestReplyClasses(t *testing.T) {
	for _, c := range []struct {
		code           int
		pos, tmp, perm bool
		closes         bool
	}{
		{250, true, false, false, false},
		{421, false, true, false, true},
		{450, false, true, false, false},
		{521, false, false, true, true},
		{550, false, false, true, false},
		{0, false, false, false, false},
	} {
		r := Reply{Code: c.code}
		if r.Positive() != c.pos || r.Temporary() != c.tmp ||
			r.Permanent() != c.perm || r.ClosesSession() != c.closes {
			t.Errorf("%d: classes wrong", c.code)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n",
		"220-x\r\n521 y\r\n", "\r\n", "999-\n999 \n", "12\x00 3\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		for {
			r, err := readReply(br, &replyBuf{}, nil)
			if err != nil {
				return
			}
			if r.Code < 0 || r.Code > 999 {
				t.Fatalf("code %d", r.Code)
			}
			if len(r.Text) > MaxReplyText {
				t.Fatalf("text of %d bytes", len(r.Text))
			}
			for _, c := range r.Text {
				if c != '\n' && (c < 0x20 || c >= 0x7f) && !isSpace(c) {
					t.Fatalf("uncensored byte %#x", c)
				}
			}
		}
	})
}
