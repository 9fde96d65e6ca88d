package message

import (
	"strings"
	"testing"
	"time"
)

func stampConfig(now time.Time) Config {
	cfg := baseConfig()
	cfg.Stamp, cfg.RunID = true, "run-1"
	cfg.Now = func() time.Time { return now }
	return cfg
}

// The stamp goes first, before the generated header block, with the
// send time in UTC.
func TestStampHeaders(t *testing.T) {
	sent := time.Date(2026, 12, 3, 16, 35, 50, 120000000,
		time.FixedZone("CET", 3600))
	g := mustNew(t, stampConfig(sent))
	head := string(g.AppendHead(nil, 41, 0))
	want := "X-Smtp-Source-Run: run-1\r\n" +
		"X-Smtp-Source-Seq: 41\r\n" +
		"X-Smtp-Source-Sent: 2026-12-03T15:35:50.12Z\r\n" +
		"From: <foo@vm>\r\n"
	if !strings.HasPrefix(head, want) {
		t.Errorf("head = %q, want it to start with %q", head, want)
	}

	run, seq, at, ok := ParseStamp([]byte(head))
	if !ok || run != "run-1" || seq != 41 || !at.Equal(sent) {
		t.Errorf("ParseStamp = %q %d %v %v, want run-1 41 %v true",
			run, seq, at, ok, sent)
	}
}

// With -o or a file the stamp is the only header the generator adds.
func TestStampWithFile(t *testing.T) {
	cfg := stampConfig(time.Unix(0, 0))
	cfg.EML = [][]byte{[]byte("Subject: x\n\nbody\n")}
	got := string(mustNew(t, cfg).AppendContent(nil, 7, 0))
	want := "X-Smtp-Source-Run: run-1\r\nX-Smtp-Source-Seq: 7\r\n" +
		"X-Smtp-Source-Sent: 1970-01-01T00:00:00Z\r\n" +
		"Subject: x\r\n\r\nbody\r\n"
	if got != want {
		t.Errorf("content = %q, want %q", got, want)
	}
}

func TestParseStamp(t *testing.T) {
	const good = "X-Smtp-Source-Run: abc\r\nX-Smtp-Source-Seq: 12\r\n" +
		"X-Smtp-Source-Sent: 2026-12-03T15:35:50.000000001Z\r\n"
	cases := []struct {
		name   string
		header string
		ok     bool
		seq    int64
	}{
		{"ours", good, true, 12},
		{"after other headers, whole message", "Received: x\r\n" +
			good + "Subject: y\r\n\r\nbody\r\n", true, 12},
		{"LF line ends, any case, extra spaces",
			"x-smtp-source-run:abc\nX-SMTP-SOURCE-SEQ:   3  \n" +
				"x-smtp-source-sent: 2026-12-03T15:35:50Z\n", true, 3},
		{"first of each counts", good +
			"X-Smtp-Source-Seq: 99\r\n", true, 12},
		{"in the body only", "Subject: y\r\n\r\n" + good, false, 0},
		{"no send time", "X-Smtp-Source-Run: abc\r\n" +
			"X-Smtp-Source-Seq: 12\r\n", false, 0},
		{"bad number", strings.Replace(good, "12", "1x", 1), false, 0},
		{"negative number", strings.Replace(good, "12", "-1", 1),
			false, 0},
		{"bad time", strings.Replace(good, "2026-12-03T", "2026-12-03 ",
			1), false, 0},
		{"empty run id", strings.Replace(good, "abc", "", 1), false, 0},
		{"empty", "", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, seq, sent, ok := ParseStamp([]byte(tc.header))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				if run != "" || seq != 0 || !sent.IsZero() {
					t.Errorf("not ok, but returned %q %d %v", run, seq,
						sent)
				}
				return
			}
			if run != "abc" || seq != tc.seq {
				t.Errorf("got %q %d, want abc %d", run, seq, tc.seq)
			}
		})
	}
}

func TestRunID(t *testing.T) {
	a, b := NewRunID(), NewRunID()
	if len(a) != 16 || a == b {
		t.Errorf("NewRunID() = %q, %q: want 16 random hex digits", a, b)
	}
	for _, bad := range []string{"", "-", "a b", "a\r\nX-Evil: 1",
		strings.Repeat("x", 201), "caf\u00e9", "a/b"} {
		cfg := stampConfig(time.Now())
		cfg.RunID = bad
		if _, err := New(cfg); err == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
	cfg := stampConfig(time.Now())
	cfg.RunID = "Run_1.2:" + strings.Repeat("x", 192)
	if _, err := New(cfg); err != nil {
		t.Errorf("run id %q refused: %v", cfg.RunID, err)
	}
}
