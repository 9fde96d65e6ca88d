package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"go-smtp-sink", "-cv4", "-hmx.example",
		"-f", "mail, RCPT", "-q.", "127.0.0.1:2525", "-r", "data", "10",
		"-W", "rcpt:2:50", "-w3", "-A", "0", "-S", `a\tb`, "-t", "7x",
		"--fault", "rcpt:5%:450", "--seed=9", "-m", "12", "-n", "3",
		"-M", "4", "-H", "1", "-T", "65536", "-b", "451 4.7.1 x"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	checks := []struct {
		name string
		ok   bool
	}{
		{"-c -v -4", o.counter && c.Verbose && o.family == target.IPv4},
		{"-h", c.Hostname == "mx.example"},
		{"-f", c.Actions[sink.CmdMail] == sink.ActHardReject &&
			c.Actions[sink.CmdRcpt] == sink.ActHardReject},
		{"-q", c.Actions[sink.CmdDot] == sink.ActDisconnect},
		{"-r after the operand", c.Actions[sink.CmdData] ==
			sink.ActSoftReject},
		{"-f and -r imply -p", c.NoPipelining},
		{"-W", c.Delays[sink.CmdRcpt] == sink.Delay{Delay: 2 * time.Second,
			Odds: 50}},
		{"-w", c.Delays[sink.CmdData].Delay == 3*time.Second},
		{"-A 0", c.Abort && c.AbortWait == 0},
		{"-S", c.Dump.Prefix == "a\tb"},
		{"-t atoi", c.Timeout == 7*time.Second},
		{"--fault --seed", len(c.Faults) == 1 && c.Seed == 9},
		{"-m -n -M", c.MaxSessions == 12 && c.MaxQuits == 3 &&
			c.MaxMessages == 4},
		{"-H -T", c.DataWait == time.Second && o.window == 65536},
		{"-b", c.SoftReply == "451 4.7.1 x"},
		{"operands", o.listen == "127.0.0.1:2525" && o.backlog == 10},
		{"-c rate line", c.RateInterval == time.Second},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: not as given (%+v)", ch.name, o)
		}
	}
}

func TestParseErrors(t *testing.T) {
	usage := "usage: go-smtp-sink [-468acCeEFLpPv]"
	cases := []struct {
		args []string
		want string // start of the last stderr line
	}{
		{[]string{":25"}, "go-smtp-sink: fatal: " + usage},
		{[]string{":25", "0"}, "go-smtp-sink: fatal: " + usage},
		{[]string{"-x", ":25", "1"}, "go-smtp-sink: fatal: " + usage},
		{[]string{"-A", "1s", ":25", "1"}, "go-smtp-sink: fatal: " + usage},
		{[]string{"-w", "0", ":25", "1"}, "go-smtp-sink: fatal: " + usage},
		{[]string{"-b", "250 ok", ":25", "1"},
			"go-smtp-sink: fatal: " + usage},
		{[]string{"-f", "mail,bogus", ":25", "1"},
			"go-smtp-sink: fatal: unknown command: bogus"},
		{[]string{"-m", "0", ":25", "1"},
			"go-smtp-sink: fatal: bad concurrency limit: 0"},
		{[]string{"-t", "x", ":25", "1"},
			"go-smtp-sink: fatal: bad timeout: x"},
		{[]string{"-W", "rcpt", ":25", "1"},
			"go-smtp-sink: fatal: invalid command delay argument: rcpt"},
		{[]string{"-W", "rcpt:0", ":25", "1"},
			"go-smtp-sink: fatal: non-positive 'rcpt' delay"},
		{[]string{"-W", "rcpt:1:100", ":25", "1"},
			"go-smtp-sink: fatal: delay odds for 'rcpt' out of range"},
		{[]string{"-d", "a", "-D", "b", ":25", "1"},
			"go-smtp-sink: fatal: use only one of -d or -D, but not both"},
		{[]string{"--out", "-", ":25", "1"},
			`go-smtp-sink: fatal: bad --out: "-" (want a file name)`},
		{[]string{"--fault", "rcpt:5", ":25", "1"},
			"go-smtp-sink: fatal: bad fault"},
		{[]string{"--auth-required", ":25", "1"},
			"go-smtp-sink: fatal: --auth-required needs --auth-users"},
		{[]string{"--auth-tls-only", "--starttls", ":25", "1"},
			"go-smtp-sink: fatal: --auth-tls-only needs --auth-users"},
		{[]string{"--auth-users", "u", "--auth-tls-only", ":25", "1"},
			"go-smtp-sink: fatal: --auth-tls-only needs --starttls or" +
				" --smtps"},
		{[]string{"--auth-users", "/proc/nonexistent/users", "127.0.0.1:0",
			"1"}, "go-smtp-sink: fatal: auth users: open " +
			"/proc/nonexistent/users: no such file"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"go-smtp-sink"}, c.args...), &stdout,
			&stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		if code != 1 || !strings.HasPrefix(last, c.want) {
			t.Errorf("%q: exit %d, stderr\n%s\nwant exit 1 and %q",
				c.args, code, stderr.String(), c.want)
		}
	}

	// glibc's wording of a getopt error comes before the usage.
	var stderr bytes.Buffer
	run([]string{"go-smtp-sink", "-x", ":25", "1"}, &bytes.Buffer{}, &stderr)
	if !strings.HasPrefix(stderr.String(),
		"go-smtp-sink: invalid option -- 'x'\n") {
		t.Errorf("stderr %q", stderr.String())
	}
	stderr.Reset()
	run([]string{"go-smtp-sink", "-b", "45", ":25", "1"}, &bytes.Buffer{},
		&stderr)
	if !strings.HasPrefix(stderr.String(),
		"go-smtp-sink: error: bad soft error reply: 45\n") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestParseAuthOptions(t *testing.T) {
	o, err := parseOptions([]string{"go-smtp-sink", "--auth-users",
		"users.txt", "--auth-required", "--auth-tls-only", "--tls-cert",
		"c.pem", "--tls-key", "k.pem", ":2525", "10"})
	if err != nil {
		t.Fatal(err)
	}
	if o.users != "users.txt" || !o.cfg.AuthRequired ||
		!o.cfg.AuthTLSOnly || !o.cfg.StartTLS {
		t.Errorf("AUTH options not as given: %+v", o)
	}
}

func TestStrtok(t *testing.T) {
	cases := []struct{ in, tok, rest string }{
		{"rcpt:2:50", "rcpt", "2:50"},
		{"::rcpt::2", "rcpt", ":2"},
		{"rcpt", "rcpt", ""},
	}
	for _, c := range cases {
		s := c.in
		tok, _ := strtok(&s, ":")
		if tok != c.tok || s != c.rest {
			t.Errorf("strtok(%q) = %q, rest %q", c.in, tok, s)
		}
	}
	if n, ok := cAtoi(" -12x"); n != -12 || !ok {
		t.Errorf("cAtoi = %d, %v", n, ok)
	}
}

// TestHelpAndManPage checks that --help and docs/go-smtp-sink.1 list
// the same options, and every option the parser knows.
func TestHelpAndManPage(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"go-smtp-sink", "--help"}, &stdout,
		&bytes.Buffer{}); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	opt := regexp.MustCompile(`(?m)^  (-[0-9A-Za-z]|--[a-z0-9-]+)\b`)
	var help []string
	for _, m := range opt.FindAllStringSubmatch(stdout.String(), -1) {
		help = append(help, m[1])
	}
	help = append(help, "-6") // listed as "-4, -6"
	slices.Sort(help)

	var known []string
	for _, c := range shortWithArg + shortFlags {
		known = append(known, "-"+string(c))
	}
	for _, name := range append(longWithArg, longFlags...) {
		known = append(known, "--"+name)
	}
	slices.Sort(known)
	if !slices.Equal(help, known) {
		t.Errorf("--help lists\n%v\nthe parser knows\n%v", help, known)
	}

	man, err := os.ReadFile("../../docs/go-smtp-sink.1")
	if err != nil {
		t.Fatal(err)
	}
	manOpt := regexp.MustCompile(
		`(?m)^\.TP\n\.BI? (\\-(?:\\-)?[0-9A-Za-z][0-9A-Za-z-]*)`)
	var inMan []string
	for _, m := range manOpt.FindAllStringSubmatch(string(man), -1) {
		inMan = append(inMan, strings.ReplaceAll(m[1], `\-`, "-"))
	}
	slices.Sort(inMan)
	if !slices.Equal(inMan, known) {
		t.Errorf("the man page lists\n%v\nthe parser knows\n%v", inMan,
			known)
	}
	if !strings.Contains(string(man), "DIFFERENCES FROM SMTP-SINK") {
		t.Error("the man page has no DIFFERENCES FROM SMTP-SINK section")
	}
}
