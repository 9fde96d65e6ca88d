package sink

import (
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	loc := time.FixedZone("XST", -(3*3600 + 30*60))
	tm := time.Date(2026, 3, 5, 7, 4, 9, 0, loc) // a Thursday
	cases := []struct{ tmpl, want string }{
		{"%Y%m%d%H/%M.", "2026030507/04."},
		{"%y-%e-%j %I%p %P", "26- 5-064 07AM am"},
		{"%a %A %b %B %h", "Thu Thursday Mar March Mar"},
		{"%s", "1772706849"},
		{"%F %T %R %D", "2026-03-05 07:04:09 07:04 03/05/26"},
		{"%u %w %U %W %V %G %g %C", "4 4 09 09 10 2026 26 20"},
		{"%z %Z %% %n%t", "-0330 XST % \n\t"},
		{"%-d %_m %0e %Ey %Od", "5  3 05 26 05"},
		{"%k|%l|%c", " 7| 7|Thu Mar  5 07:04:09 2026"},
		{"%Q %", "%Q %"},
		{"plain", "plain"},
	}
	for _, c := range cases {
		if got := strftime(tm, c.tmpl); got != c.want {
			t.Errorf("strftime(%q) = %q, want %q", c.tmpl, got, c.want)
		}
	}
}

func TestMailDate(t *testing.T) {
	cases := []struct {
		off  int
		name string
		want string
	}{
		{0, "UTC", "Thu,  5 Mar 2026 07:04:09 +0000 (UTC)"},
		{3600 + 1800, "X", "Thu,  5 Mar 2026 07:04:09 +0130 (X)"},
		{-(5 * 3600), "EST", "Thu,  5 Mar 2026 07:04:09 -0500 (EST)"},
		// Postfix's quirk: the sign comes from the hours.
		{-1800, "Y", "Thu,  5 Mar 2026 07:04:09 +0030 (Y)"},
	}
	for _, c := range cases {
		tm := time.Date(2026, 3, 5, 7, 4, 9, 0, time.FixedZone(c.name, c.off))
		if got := mailDate(tm); got != c.want {
			t.Errorf("mailDate(%d) = %q, want %q", c.off, got, c.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	cases := []struct{ in, want string }{
		{`a\tb\nc`, "a\tb\nc"},
		{`\a\b\f\r\v\\`, "\a\b\f\r\v\\"},
		{`\101\60x\7`, "A0x\a"},
		{`\1011`, "A1"},
		{`\q`, "q"},
		{`end\`, "end"},
		{`cut\0here`, "cut"},
		{`\777`, "\xff"},
	}
	for _, c := range cases {
		if got := Unescape(c.in); got != c.want {
			t.Errorf("Unescape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseFault(t *testing.T) {
	good := []struct {
		in   string
		want Fault
	}{
		{"rcpt:5%:450", Fault{Command: CmdRcpt, Percent: 5,
			Reply: "450 4.3.0 Error: command failed"}},
		{"DATA:10:delay=2s", Fault{Command: CmdData, Percent: 10,
			Delay: 2 * time.Second}},
		{".:0.5%:554 5.7.1 Rejected: spam", Fault{Command: CmdDot,
			Percent: 0.5, Reply: "554 5.7.1 Rejected: spam"}},
		{"connect:100%:disconnect", Fault{Command: CmdConnect,
			Percent: 100, Disconnect: true}},
	}
	for _, g := range good {
		f, err := ParseFault(g.in)
		if err != nil || f != g.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", g.in, f, err,
				g.want)
		}
	}
	for _, bad := range []string{"rcpt", "rcpt:5%", "bogus:5:450",
		"rcpt:0:450", "rcpt:101:450", "rcpt:x:450", "rcpt:5:250",
		"rcpt:5:45", "rcpt:5:450x", "rcpt:5:delay=-1s", "rcpt:5:"} {
		if f, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) = %+v, want an error", bad, f)
		}
	}
}

func TestParseCommands(t *testing.T) {
	cmds, err := ParseCommands("RCPT, data\t.  Connect,,quit")
	want := []Command{CmdRcpt, CmdData, CmdDot, CmdConnect, CmdQuit}
	if err != nil || len(cmds) != len(want) {
		t.Fatalf("ParseCommands = %v, %v", cmds, err)
	}
	for i := range want {
		if cmds[i] != want[i] {
			t.Errorf("command %d = %v, want %v", i, cmds[i], want[i])
		}
	}
	if _, err := ParseCommands("mail,bogus"); err == nil ||
		err.Error() != "unknown command: bogus" {
		t.Errorf("ParseCommands(bogus) error %v", err)
	}
}

func TestSplitCommand(t *testing.T) {
	cases := []struct{ line, verb, args, mail string }{
		{"MAIL FROM:<a>", "MAIL", "FROM:<a>", "<a>"},
		{"  mail\tfrom::: \t<a> SIZE=1", "mail", "from::: \t<a> SIZE=1",
			"?<a> SIZE=1"}, // a tab turns into ? first, as in smtp-sink
		{"MAIL  FROM:<a>", "MAIL", " FROM:<a>", "<a>"},
		{"RCPT TO", "RCPT", "TO", ""},
		{"QUIT", "QUIT", "", ""},
		{"HELO a\x00b", "HELO", "a", ""},
		{"NOOP a\nb", "NOOP", "a\nb", ""},
	}
	for _, c := range cases {
		v, a, ok := splitCommand([]byte(c.line))
		if !ok || string(v) != c.verb || string(a) != c.args {
			t.Errorf("splitCommand(%q) = %q, %q, %v", c.line, v, a, ok)
		}
		if got := pathArgs(a, false); got != c.mail {
			t.Errorf("pathArgs(%q) = %q, want %q", a, got, c.mail)
		}
	}
	if _, _, ok := splitCommand([]byte(" \t ")); ok {
		t.Error("a line of blanks has a verb")
	}
	if got := printable([]byte("a\tb\x7f\xc3\xa9"), false); got != "a?b???" {
		t.Errorf("printable = %q", got)
	}
	if got := printable([]byte("\xc3\xa9\xff"), true); got != "\xc3\xa9?" {
		t.Errorf("printable utf8 = %q", got)
	}
}

func TestMailSizeAndBdatArgs(t *testing.T) {
	if n := mailSize([]byte("FROM:<a> BODY=8BITMIME SIZE=1234")); n != 1234 {
		t.Errorf("mailSize = %d", n)
	}
	if n := mailSize([]byte("FROM:<a> SIZE=x")); n != -1 {
		t.Errorf("mailSize(x) = %d", n)
	}
	cases := []struct {
		args string
		size int64
		last bool
		ok   bool
	}{
		{"10", 10, false, true},
		{" 0  last", 0, true, true},
		{"5 LAST x", 0, false, false},
		{"-1", 0, false, false},
		{"99999999999999999999", 0, false, false},
		{"", 0, false, false},
	}
	for _, c := range cases {
		size, last, ok := parseBdat([]byte(c.args))
		if size != c.size || last != c.last || ok != c.ok {
			t.Errorf("parseBdat(%q) = %d, %v, %v", c.args, size, last, ok)
		}
	}
}
