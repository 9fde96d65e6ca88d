package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
)

// defaults returns the options of a command line that names only target.
func defaults(target string) options {
	return options{
		connects:     1,
		messages:     1,
		recipients:   1,
		sessions:     1,
		numbering:    "3.7",
		connectTO:    defaultConnectTimeout,
		connectLimit: defaultConnectLimit,
		bannerTO:     defaultBannerTimeout,
		replyTO:      defaultReplyTimeout,
		target:       target,
		dist:         distOptions{maxStartDelay: time.Second},
	}
}

func TestParseArgs(t *testing.T) {
	empty, from := "", "a@example.com"
	tests := []struct {
		args []string
		want func(o *options)
	}{
		{[]string{"h"}, func(o *options) {}},
		{[]string{"-s", "10", "h"}, func(o *options) { o.sessions = 10 }},
		{[]string{"-s10", "h"}, func(o *options) { o.sessions = 10 }},
		{[]string{"-cd", "h"}, func(o *options) {
			o.counter, o.keepOpen = 1, true
		}},
		{[]string{"-dm", "5", "h"}, func(o *options) {
			o.keepOpen, o.messages = true, 5
		}},
		{[]string{"-vv", "h"}, func(o *options) { o.verbose = 2 }},
		{[]string{"-v", "-c", "-v", "h"}, func(o *options) {
			o.verbose, o.counter = 2, 1
		}},
		{[]string{"-f", "", "h"}, func(o *options) { o.sender = &empty }},
		{[]string{"-f", from, "-t", "b@example.com", "-S", "subj", "h"},
			func(o *options) {
				to, subj := "b@example.com", "subj"
				o.sender, o.recipient, o.subject = &from, &to, &subj
			}},
		{[]string{"-4AdLNo", "h"}, func(o *options) {
			o.ipv4, o.allowReject, o.keepOpen = true, true, true
			o.lmtp, o.numbered, o.oldMode = true, true, true
		}},
		{[]string{"-6", "h"}, func(o *options) { o.ipv6 = true }},
		{[]string{"-C", "3", "-l", "100", "-m", "7", "-r", "4", "h"},
			func(o *options) {
				o.connects, o.length, o.messages = 3, 100, 7
				o.recipients, o.rcptSet = 4, true
			}},
		{[]string{"-R", "5", "-T", "1024", "h"}, func(o *options) {
			o.randomDelay, o.windowSize = 5, 1024
		}},
		{[]string{"-w", "2", "-M", "client.example.com", "h"},
			func(o *options) {
				o.fixedDelay, o.hostname = 2, "client.example.com"
			}},
		{[]string{"-M", "[127.0.0.1]", "h"}, func(o *options) {
			o.hostname = "[127.0.0.1]"
		}},
		{[]string{"-F", "/some/file", "h"}, func(o *options) {
			o.file, o.fileSet = "/some/file", true
		}},
		{[]string{"-tls", "h"}, func(o *options) { o.starttls = "required" }},
		{[]string{"-resolve-once", "h"}, func(o *options) {}},
		{[]string{"-q", "100", "h"}, func(o *options) { o.rate = 100 }},
		{[]string{"--starttls", "h"}, func(o *options) {
			o.starttls = "required"
		}},
		{[]string{"--starttls=opportunistic", "h"}, func(o *options) {
			o.starttls = "opportunistic"
		}},
		{[]string{"--rate", "50/1s", "h"}, func(o *options) { o.rate = 50 }},
		{[]string{"--rate", "3/m", "h"}, func(o *options) { o.rate = 0.05 }},
		{[]string{"--rate=10/100ms", "h"}, func(o *options) {
			o.rate = 100
		}},
		{[]string{"--numbering", "3.9", "h"}, func(o *options) {
			o.numbering = "3.9"
		}},
		{[]string{"--connect-timeout", "5s", "--banner-timeout", "1m",
			"--reply-timeout", "0", "h"}, func(o *options) {
			o.connectTO, o.bannerTO, o.replyTO = 5*time.Second,
				time.Minute, 0
		}},
		{[]string{"--connect-limit", "1", "h"}, func(o *options) {
			o.connectLimit = 1
		}},
		{[]string{"--connect-limit", "0", "h"}, func(o *options) {
			o.connectLimit = 0
		}},
		{[]string{"--seed", "42", "--no-summary", "--postfix-file-bytes",
			"h"}, func(o *options) {
			o.seed, o.seedSet = 42, true
			o.noSummary, o.fileCompat = true, true
		}},
		{[]string{"--pipelining", "--chunking", "--chunk-size", "64k",
			"h"}, func(o *options) {
			o.ext.pipelining, o.ext.chunking = true, true
			o.ext.chunkSize = 65536
		}},
		{[]string{"--eml", "/some/dir", "--unique-headers", "--run-id",
			"r1", "h"}, func(o *options) {
			o.ext.eml, o.ext.uniqueHeaders, o.ext.runID = "/some/dir",
				true, "r1"
		}},
		// "--" ends the options: what follows is the target, even
		// when it looks like an option.
		{[]string{"-s", "2", "--", "127.0.0.1:25"}, func(o *options) {
			o.sessions, o.target = 2, "127.0.0.1:25"
		}},
		{[]string{"--", "-s"}, func(o *options) { o.target = "-s" }},
		{[]string{"--", "-tls"}, func(o *options) { o.target = "-tls" }},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := parseArgs(prog, tt.args)
			if err != nil {
				t.Fatalf("parseArgs: %v", err)
			}
			want := defaults("h")
			tt.want(&want)
			// args is the command line as given, kept for the
			// result document.
			if diff := cmp.Diff(&want, got,
				cmp.AllowUnexported(options{}, secOptions{},
					extOptions{}, distOptions{}),
				cmpopts.IgnoreFields(options{}, "args")); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseArgsHelpVersion(t *testing.T) {
	tests := []struct {
		args          []string
		help, version bool
	}{
		{[]string{"-h"}, true, false},
		{[]string{"--help"}, true, false},
		{[]string{"--version"}, false, true},
		// No target needed, and later options are not checked.
		{[]string{"--help", "-m", "0"}, true, false},
	}
	for _, tt := range tests {
		got, err := parseArgs(prog, tt.args)
		if err != nil {
			t.Errorf("parseArgs(%q): %v", tt.args, err)
			continue
		}
		if got.help != tt.help || got.version != tt.version {
			t.Errorf("parseArgs(%q): help %v version %v, want %v %v",
				tt.args, got.help, got.version, tt.help, tt.version)
		}
	}
}

// TestBadInput: every unusable command line or target ends with exit
// status 1, nothing on stdout and one fatal line on stderr naming the
// problem, worded as smtp-source's where it has wording for it.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, "msg.eml", []byte("Subject: x\n\nbody\n"))
	unreadable := filepath.Join(dir, "unreadable.eml")
	if err := os.WriteFile(unreadable, []byte("x\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	long := "unix:/" + strings.Repeat("a", 200)
	refused := closedPort(t)

	tests := []struct {
		name string
		args []string
		// The fatal text after "fatal: ": exactly fatal, or containing
		// has when fatal is empty.
		fatal, has string
		ran        bool // the run started: a summary line comes first
		skipRoot   bool // root reads any file
	}{
		{name: "unknown short option", args: []string{"-x", "h"},
			has: "invalid option -- 'x'"},
		{name: "unknown long option", args: []string{"--bogus", "h"},
			has: "unrecognized option '--bogus'"},
		{name: "missing argument", args: []string{"-s"},
			has: "option requires an argument -- 's'"},
		{name: "missing target", args: []string{"-m", "1"},
			has: "expected one target"},
		{name: "two targets", args: []string{"a", "b"},
			has: "expected one target"},
		{name: "unclosed bracket", args: []string{"[::1"},
			fatal: `[::1: missing "]"`},
		{name: "extra colon", args: []string{"host:port:extra"},
			fatal: "host:port:extra: valid hostname or network " +
				"address required"},
		{name: "long unix path", args: []string{long},
			fatal: "unix-domain name too long: " +
				strings.TrimPrefix(long, "unix:")},
		{name: "sink with text", args: []string{"sink:x"}, has: "sink:x"},
		{name: "-l 0", args: []string{"-l", "0", "h"},
			fatal: "bad message length: 0"},
		{name: "negative connect limit",
			args: []string{"--connect-limit", "-1", "h"},
			fatal: `bad --connect-limit: "-1" (want a whole number; ` +
				"0 for no limit)"},
		{name: "connect limit not a number",
			args: []string{"--connect-limit", "8x", "h"},
			fatal: `bad --connect-limit: "8x" (want a whole number; ` +
				"0 for no limit)"},
		{name: "-l -1", args: []string{"-l", "-1", "h"},
			fatal: "bad message length: -1"},
		{name: "-m 0", args: []string{"-m", "0", "h"},
			fatal: "bad message count: 0"},
		{name: "-m abc", args: []string{"-m", "abc", "h"},
			fatal: "bad message count: abc"},
		// smtp-source's atoi reads 10 here; we refuse (documented).
		{name: "-m 10x", args: []string{"-m", "10x", "h"},
			fatal: "bad message count: 10x"},
		{name: "-m huge", args: []string{"-m", "99999999999", "h"},
			fatal: "bad message count: 99999999999"},
		{name: "-s 0", args: []string{"-s", "0", "h"},
			fatal: "bad session count: 0"},
		{name: "-r 0", args: []string{"-r", "0", "h"},
			fatal: "bad recipient count: 0"},
		{name: "-C 0", args: []string{"-C", "0", "h"},
			fatal: "bad connection count: 0"},
		{name: "-T 0", args: []string{"-T", "0", "h"},
			fatal: "bad TCP window size: 0"},
		{name: "-w 0", args: []string{"-w", "0", "h"},
			fatal: "bad fixed delay: 0"},
		// The first bad number on the line is named, as smtp-source
		// checks each where it stands.
		{name: "-w 0 -R 0", args: []string{"-w", "0", "-R", "0", "h"},
			fatal: "bad fixed delay: 0"},
		{name: "-R 0 -w 0", args: []string{"-R", "0", "-w", "0", "h"},
			fatal: "bad random delay: 0"},
		{name: "-m 0 then a good -m", args: []string{"-m", "0", "-m", "5",
			"h"}, fatal: "bad message count: 0"},
		{name: "-R with -w", args: []string{"-R", "1", "-w", "1", "h"},
			fatal: "do not use -w and -R options at the same time"},
		{name: "-F with -l", args: []string{"-F", file, "-l", "10", "h"},
			fatal: "-l option cannot be used with -F"},
		{name: "-F missing", args: []string{"-F", "/proc/nonexistent", "h"},
			fatal: "open /proc/nonexistent: No such file or directory"},
		{name: "-F directory", args: []string{"-F", dir, "h"},
			fatal: "read " + dir + ": Is a directory"},
		{name: "-F empty name", args: []string{"-F", "", "h"},
			fatal: "open : No such file or directory"},
		{name: "--out in a missing directory", args: []string{"--out",
			"/proc/nonexistent/r.json", "sink:"},
			fatal: "--out: open /proc/nonexistent/r.json: " +
				"No such file or directory"},
		{name: "--out a directory", args: []string{"--out", dir, "sink:"},
			fatal: "--out: open " + dir + ": Is a directory"},
		{name: "-c with --out -", args: []string{"-c", "--out", "-", "h"},
			fatal: "-c and --out - would both write to standard output"},
		{name: "-F unreadable", args: []string{"-F", unreadable, "h"},
			fatal:    "open " + unreadable + ": Permission denied",
			skipRoot: true},
		{name: "-M bad host", args: []string{"-M", "bad host!", "h"},
			has: "bad hostname: bad host!"},
		{name: "-M empty", args: []string{"-M", "", "h"},
			has: "bad hostname: "},
		{name: "-M bad literal", args: []string{"-M", "[999.1.1.1]", "h"},
			fatal: "bad address literal: [999.1.1.1]"},
		{name: "-4 with -6", args: []string{"-4", "-6", "h"},
			has: "-4 and -6"},
		{name: "bad starttls mode", args: []string{"--starttls=bogus",
			"h"}, has: "--starttls"},
		{name: "-q with --rate", args: []string{"-q", "100", "--rate",
			"50", "h"}, has: "-q and --rate both set the rate"},
		{name: "--rate 0", args: []string{"--rate", "0", "h"},
			has: "--rate"},
		{name: "--rate 10/x", args: []string{"--rate", "10/x", "h"},
			has: `bad unit "x"`},
		{name: "--rate x/s", args: []string{"--rate", "x/s", "h"},
			has: "--rate"},
		{name: "negative timeout", args: []string{"--reply-timeout",
			"-1s", "h"}, has: "--reply-timeout"},
		{name: "bad numbering", args: []string{"--numbering", "4", "h"},
			has: "--numbering"},
		{name: "unresolvable", args: []string{"nosuchhost.invalid:25"},
			fatal: "nosuchhost.invalid:25: Name or service not known"},
		{name: "connection refused", args: []string{refused},
			fatal: "connect: Connection refused", ran: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipRoot && os.Geteuid() == 0 {
				t.Skip("running as root, which reads a mode 000 file")
			}
			r := runCmd(t, tt.args...)
			checkBadInput(t, r, tt.fatal, tt.has, tt.ran)
		})
	}
}

// checkBadInput checks the outcome of a command line that must fail.
func checkBadInput(t *testing.T, r result, fatal, has string, ran bool) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if strings.Contains(r.stderr, "panic") ||
		strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("stack trace on stderr:\n%s", r.stderr)
	}

	lines := r.lines()
	if ran && len(lines) > 0 && strings.HasPrefix(lines[0],
		summaryPrefix) {
		lines = lines[1:]
	}
	if len(lines) != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("stderr %q, want one line", r.stderr)
	}
	text, ok := strings.CutPrefix(lines[0], fatalPrefix)
	switch {
	case !ok:
		t.Errorf("stderr %q, want %q first", lines[0], fatalPrefix)
	case fatal != "" && text != fatal:
		t.Errorf("fatal: %q\n          want %q", text, fatal)
	case fatal == "" && !strings.Contains(text, has):
		t.Errorf("fatal: %q, want it to name %q", text, has)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		r := runCmd(t, arg)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: exit status %d, stderr %q; want 0, nothing",
				arg, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "usage: "+prog+" ") {
			t.Errorf("%s: stdout starts %.40q, want the usage", arg,
				r.stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runCmd(t, "--version")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("exit status %d, stderr %q; want 0, nothing", r.code,
			r.stderr)
	}
	if !strings.HasPrefix(r.stdout, prog+" ") ||
		strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("stdout %q, want one line naming %s", r.stdout, prog)
	}
}

// TestHelpMatchesManPage keeps --help and docs/go-smtp-source.1 listing
// the same options.
func TestHelpMatchesManPage(t *testing.T) {
	man, err := os.ReadFile("../../docs/go-smtp-source.1")
	if err != nil {
		t.Fatal(err)
	}
	help := helpOptions(helpText)
	page := manOptions(string(man))
	if len(help) < 30 {
		t.Fatalf("found only %d options in --help: %q", len(help), help)
	}
	for _, o := range help {
		if !slices.Contains(page, o) {
			t.Errorf("%s is in --help, not in the man page", o)
		}
	}
	for _, o := range page {
		if !slices.Contains(help, o) {
			t.Errorf("%s is in the man page, not in --help", o)
		}
	}
}

// helpOptions lists the options --help describes: the first word of
// each line that starts with a dash after its indent, and the long name
// after "-h,".
func helpOptions(help string) []string {
	var opts []string
	for _, line := range strings.Split(help, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "-") {
			continue
		}
		for i, f := range fields {
			name, _, _ := strings.Cut(f, "[")
			name, _, _ = strings.Cut(name, "=")
			opts = append(opts, strings.TrimSuffix(name, ","))
			if !strings.HasSuffix(f, ",") || i+1 == len(fields) {
				break
			}
		}
	}
	slices.Sort(opts)
	return slices.Compact(opts)
}

var (
	manQuoted = regexp.MustCompile(`"[^"]*"`)
	manOption = regexp.MustCompile(`(^|\s)(--?[A-Za-z0-9][A-Za-z0-9-]*)`)
)

// manOptions lists the options the man page describes: those named in
// the tag line after each .TP.
func manOptions(page string) []string {
	var opts []string
	lines := strings.Split(page, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i-1] != ".TP" {
			continue
		}
		tag := strings.ReplaceAll(lines[i], `\-`, "-")
		tag = manQuoted.ReplaceAllString(tag, " ")
		for _, m := range manOption.FindAllStringSubmatch(tag, -1) {
			opts = append(opts, m[2])
		}
	}
	slices.Sort(opts)
	return slices.Compact(opts)
}

// TestCounter: -c prints the number of each message as its final dot
// goes out, a carriage return after each, and a newline at the end.
func TestCounter(t *testing.T) {
	srv := startCase(t, "accept", scripttest.Conns(3))
	r := runCmd(t, "-c", "-m", "3", srv.Addr)
	if r.code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if want := "1\r2\r3\r\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	checkServer(t, srv)
}

// TestVerbose: -v prints each command before it is sent and each reply
// line as "<<< line", in the order of the dialogue, as smtp-source -v.
func TestVerbose(t *testing.T) {
	srv := startCase(t, "accept")
	r := runCmd(t, "-v", "-m", "1", "-M", "client.example.com",
		"-f", "a@example.com", "-t", "b@example.com", srv.Addr)
	if r.code != 0 {
		t.Errorf("exit status %d, want 0", r.code)
	}
	dialogue := []string{
		"<<< 220 mx.example.com ESMTP",
		"HELO client.example.com",
		"<<< 250-mx.example.com",
		"<<< 250-8BITMIME",
		"<<< 250-SMTPUTF8",
		"<<< 250 SIZE 52428800",
		"MAIL FROM:<a@example.com>",
		"<<< 250 2.1.0 Ok",
		"RCPT TO:<b@example.com>",
		"<<< 250 2.1.5 Ok",
		"DATA",
		"<<< 354 End data with <CR><LF>.<CR><LF>",
		".",
		"<<< 250 2.0.0 Ok: queued",
		"QUIT",
		"<<< 221 2.0.0 Bye",
	}
	lines := r.lines()
	next := 0
	for _, l := range lines {
		if next < len(dialogue) && l == prog+": "+dialogue[next] {
			next++
		}
	}
	if next < len(dialogue) {
		t.Errorf("stderr lacks %q (or has it out of order):\n%s",
			prog+": "+dialogue[next], r.stderr)
	}
	checkServer(t, srv)
}

// TestSummaryLineMatchesTable checks that the one-line summary gives
// the same elapsed time and rate as the table under it.
func TestSummaryLineMatchesTable(t *testing.T) {
	r := runCmd(t, "-s", "5", "-m", "50", "-d", "sink:")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	line := regexp.MustCompile(`elapsed=(\d+\.\d{3})s rate=(\d+\.\d)/s`).
		FindStringSubmatch(r.stderr)
	start := regexp.MustCompile(`(?m)^  start .*, elapsed (\S+)$`).
		FindStringSubmatch(r.stderr)
	success := regexp.MustCompile(`(?m)^  success .*, (\d+\.\d) msg/s$`).
		FindStringSubmatch(r.stderr)
	if line == nil || start == nil || success == nil {
		t.Fatalf("no elapsed time or rate in the line or the table:\n%s",
			r.stderr)
	}
	if line[2] != success[1] {
		t.Errorf("line's rate %s/s, table's %s msg/s", line[2], success[1])
	}
	d, err := time.ParseDuration(start[1])
	if err != nil {
		t.Fatal(err)
	}
	// Each rounds the same time: to the millisecond, and to 4 digits.
	sec, _ := strconv.ParseFloat(line[1], 64)
	if diff := sec - d.Seconds(); diff > 0.0006 || diff < -0.0006 {
		t.Errorf("line's elapsed %ss, table's %s", line[1], start[1])
	}
}
