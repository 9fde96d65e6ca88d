package message

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testDate is the date of the capture quoted in the Postfix reference.
var testDate = time.Date(2026, 12, 3, 15, 35, 50, 0,
	time.FixedZone("UTC", 0))

// baseConfig is a plain smtp-source run: one recipient, built-in body.
func baseConfig() Config {
	return Config{
		Hostname:  "vm",
		Sender:    "foo@vm",
		Recipient: "foo@vm",
		RcptCount: 1,
		Date:      testDate,
		PID:       0x1bd1,
	}
}

// mustNew calls New and fails the test on error.
func mustNew(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return g
}

func TestAppendContent(t *testing.T) {
	const date = "Date: Thu,  3 Dec 2026 15:35:50 +0000 (UTC)\r\n"
	const body = "La de da de da 1.\r\nLa de da de da 2.\r\n" +
		"La de da de da 3.\r\nLa de da de da 4.\r\n"

	cases := []struct {
		name    string
		edit    func(*Config)
		seq     int64
		session int
		want    string
	}{{
		// The capture in the reference, with our Message-Id.
		name:    "default",
		edit:    func(*Config) {},
		session: 3,
		want: "From: <foo@vm>\r\nTo: <foo@vm>\r\n" + date +
			"Message-Id: <1bd1.0003.0000@vm>\r\n\r\n" + body,
	}, {
		name: "subject",
		edit: func(c *Config) {
			c.Subject, c.HasSubject = "hello world", true
		},
		seq:     0x12345,
		session: 1,
		want: "From: <foo@vm>\r\nTo: <foo@vm>\r\n" + date +
			"Message-Id: <1bd1.0001.12345@vm>\r\n" +
			"Subject: hello world\r\n\r\n" + body,
	}, {
		name: "empty subject is still sent",
		edit: func(c *Config) { c.HasSubject = true },
		want: "From: <foo@vm>\r\nTo: <foo@vm>\r\n" + date +
			"Message-Id: <1bd1.0000.0000@vm>\r\nSubject: \r\n\r\n" +
			body,
	}, {
		name: "subject without HasSubject is not sent",
		edit: func(c *Config) { c.Subject = "ignored" },
		want: "From: <foo@vm>\r\nTo: <foo@vm>\r\n" + date +
			"Message-Id: <1bd1.0000.0000@vm>\r\n\r\n" + body,
	}, {
		name: "null sender",
		edit: func(c *Config) { c.Sender = "" },
		seq:  9,
		want: "From: <>\r\nTo: <foo@vm>\r\n" + date +
			"Message-Id: <1bd1.0000.0009@vm>\r\n\r\n" + body,
	}, {
		name: "old mode has no header block",
		edit: func(c *Config) {
			c.OldMode = true
			c.Subject, c.HasSubject = "ignored", true
		},
		want: body,
	}, {
		name: "3.7 numbering leaves To plain",
		edit: func(c *Config) {
			c.Recipient = "rcpt@example.net"
			c.RcptCount, c.RcptSet, c.Numbered = 3, true, true
		},
		seq: 4,
		want: "From: <foo@vm>\r\nTo: <rcpt@example.net>\r\n" + date +
			"Message-Id: <1bd1.0000.0004@vm>\r\n\r\n" + body,
	}, {
		name: "3.9 numbering shows the last recipient in To",
		edit: func(c *Config) {
			c.Recipient = "user+@example.com"
			c.RcptCount, c.RcptSet = 3, true
			c.Numbering = NumberingAppend
		},
		seq: 4,
		want: "From: <foo@vm>\r\nTo: <user+14@example.com>\r\n" + date +
			"Message-Id: <1bd1.0000.0004@vm>\r\n\r\n" + body,
	}, {
		name: "3.9 without numbering",
		edit: func(c *Config) {
			c.Recipient = "user+@example.com"
			c.Numbering = NumberingAppend
		},
		seq: 4,
		want: "From: <foo@vm>\r\nTo: <user+@example.com>\r\n" + date +
			"Message-Id: <1bd1.0000.0004@vm>\r\n\r\n" + body,
	}, {
		name: "file replaces headers and body",
		edit: func(c *Config) {
			c.File, c.HasFile = []byte("Subject: x\n\nhi\n"), true
			c.Subject, c.HasSubject = "ignored", true
		},
		want: "Subject: x\r\n\r\nhi\r\n",
	}}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(&cfg)
			g := mustNew(t, cfg)

			got := g.AppendContent([]byte("prefix"), tc.seq, tc.session)
			if diff := cmp.Diff("prefix"+tc.want, string(got)); diff != "" {
				t.Errorf("AppendContent (-want +got):\n%s", diff)
			}

			head := g.AppendHead(nil, tc.seq, tc.session)
			split := string(head) + string(g.Body(tc.seq))
			if split != tc.want {
				t.Errorf("AppendHead+Body = %q, want %q", split, tc.want)
			}
			if len(tc.want) > g.SizeHint() {
				t.Errorf("SizeHint() = %d, content is %d bytes",
					g.SizeHint(), len(tc.want))
			}
		})
	}
}

func TestDateHeader(t *testing.T) {
	cases := []struct {
		date time.Time
		want string
	}{
		{testDate, "Thu,  3 Dec 2026 15:35:50 +0000 (UTC)"},
		{
			time.Date(2026, 12, 13, 1, 2, 3, 0,
				time.FixedZone("XST", 5*3600+1800)),
			"Sun, 13 Dec 2026 01:02:03 +0530 (XST)",
		},
		{
			time.Date(2025, 7, 4, 23, 59, 59, 0,
				time.FixedZone("EDT", -4*3600)),
			"Fri,  4 Jul 2025 23:59:59 -0400 (EDT)",
		},
	}
	for _, tc := range cases {
		cfg := baseConfig()
		cfg.Date = tc.date
		got := string(mustNew(t, cfg).AppendContent(nil, 0, 0))

		want := "\r\nDate: " + tc.want + "\r\n"
		if !strings.Contains(got, want) {
			t.Errorf("date %v: content %q lacks %q", tc.date, got, want)
		}
	}
}

func TestDateDefaultsToNow(t *testing.T) {
	cfg := baseConfig()
	cfg.Date = time.Time{}
	before := time.Now().Truncate(time.Second)
	got := string(mustNew(t, cfg).AppendContent(nil, 0, 0))
	after := time.Now()

	_, rest, ok := strings.Cut(got, "\r\nDate: ")
	line, _, _ := strings.Cut(rest, "\r\n")
	d, err := time.Parse(DateLayout, line)
	if !ok || err != nil {
		t.Fatalf("no Date header in %q: %v", got, err)
	}
	if d.Before(before) || d.After(after) {
		t.Errorf("Date %v is not between %v and %v", d, before, after)
	}
}

func TestMessageIDUnique(t *testing.T) {
	g := mustNew(t, baseConfig())
	seen := make(map[string]string)
	for session := 0; session < 3; session++ {
		for seq := int64(0); seq < 300; seq += 7 {
			content := string(g.AppendContent(nil, seq, session))
			_, rest, _ := strings.Cut(content, "Message-Id: ")
			id, _, _ := strings.Cut(rest, "\r\n")

			where := fmt.Sprintf("session %d seq %d", session, seq)
			if prev, dup := seen[id]; dup {
				t.Fatalf("Message-Id %s of %s repeats %s",
					id, where, prev)
			}
			seen[id] = where
		}
	}
}

func TestAppendHex4(t *testing.T) {
	cases := []struct {
		v    uint64
		want string
	}{
		{0, "0000"}, {0xa, "000a"}, {0x1bd1, "1bd1"}, {0xffff, "ffff"},
		{0x10000, "10000"}, {0xffffffff, "ffffffff"},
	}
	for _, tc := range cases {
		if got := string(appendHex4(nil, tc.v)); got != tc.want {
			t.Errorf("appendHex4(%#x) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestPayload(t *testing.T) {
	x := func(n int) string { return strings.Repeat("X", n) }
	line := func(digit string) string { return digit + x(77) + "\r\n" }

	// The examples verified against smtp-source in the reference.
	examples := map[int]string{
		1:   "X\r\n",
		80:  x(80) + "\r\n",
		81:  line("1") + "X\r\n",
		160: line("1") + x(80) + "\r\n",
		200: line("1") + line("2") + x(40) + "\r\n",
	}
	for n, want := range examples {
		cfg := baseConfig()
		cfg.Length, cfg.OldMode = n, true
		got := string(mustNew(t, cfg).AppendContent(nil, 0, 0))
		if got != want {
			t.Errorf("-l %d: got %q, want %q", n, got, want)
		}
	}

	// The general shape, across the digit wrap-around after 9.
	for _, n := range []int{799, 800, 801, 1000, 12345} {
		got := string(payload(n))
		if len(got) != n+2 {
			t.Errorf("-l %d: %d bytes, want %d", n, len(got), n+2)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
		full := (n - 1) / 80
		if len(lines) != full+1 {
			t.Fatalf("-l %d: %d lines, want %d", n, len(lines), full+1)
		}
		for i, l := range lines[:full] {
			want := string("0123456789"[(i+1)%10]) + x(77)
			if l != want {
				t.Errorf("-l %d: line %d is %q, want %q", n, i, l, want)
			}
		}
		if last := lines[full]; last != x(len(last)) || len(last) == 0 {
			t.Errorf("-l %d: last line %q is not all X", n, last)
		}
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no recipients", func(c *Config) { c.RcptCount = 0 },
			"recipient count 0"},
		{"negative length", func(c *Config) { c.Length = -1 },
			"message length -1"},
		{"length and file", func(c *Config) {
			c.Length, c.HasFile = 10, true
		}, "cannot be used with a message file"},
		{"bad numbering", func(c *Config) { c.Numbering = 7 },
			"unknown recipient numbering 7"},
		{"LF in subject", func(c *Config) {
			c.Subject, c.HasSubject = "a\n.b", true
		}, "subject"},
		{"CR in sender", func(c *Config) { c.Sender = "a\r@b" },
			"sender"},
		{"LF in recipient", func(c *Config) { c.Recipient = "a@b\n" },
			"recipient"},
		{"CRLF in hostname", func(c *Config) { c.Hostname = "h\r\nx" },
			"hostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(&cfg)
			g, err := New(cfg)
			if err == nil {
				t.Fatalf("New succeeded: %+v", g)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestSenderAddr(t *testing.T) {
	for _, s := range []string{"", "foo@vm", "a@b@c"} {
		cfg := baseConfig()
		cfg.Sender = s
		if got := mustNew(t, cfg).SenderAddr(); got != s {
			t.Errorf("SenderAddr() = %q, want %q", got, s)
		}
	}
}
