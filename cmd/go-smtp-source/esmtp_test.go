package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest/cases"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// startDumpSink runs go-smtp-sink in-process with cfg, dumping each
// message to a file of its own, and returns its address and a function
// that returns the dumped contents (after the Received: header).
func startDumpSink(t *testing.T, cfg sink.Config) (string,
	func() []string) {

	t.Helper()
	dir := t.TempDir()
	cfg.Dump.PerMessage = filepath.Join(dir, "msg.")
	_, addr := sinktest.Start(t, cfg)

	dumps := func() []string {
		files, _ := filepath.Glob(filepath.Join(dir, "msg.*"))
		var out []string
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// The content follows the 3 lines of Received:.
			_, c, ok := strings.Cut(string(b), "\nReceived: from ")
			for i := 0; ok && i < 3; i++ {
				_, c, ok = strings.Cut(c, "\n")
			}
			out = append(out, c)
		}
		return out
	}
	return addr, dumps
}

// --chunking sends -F files with BDAT, in chunks, dots untouched; the
// sink's dumps show the file.
func TestChunkingCommand(t *testing.T) {
	const file = "Subject: dots\n\n.one\n..two\n.\nlast line\n"
	path := writeFile(t, "dots.eml", []byte(file))
	for _, extra := range [][]string{
		{"--chunking"},
		{"--chunking", "--chunk-size", "7"},
		{"--chunking", "--chunk-size", "7", "--pipelining"},
	} {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			addr, dumps := startDumpSink(t, sink.Config{Chunking: true})
			args := append([]string{"-d", "-s", "2", "-m", "6", "-F",
				path}, extra...)
			r := runCmd(t, append(args, addr)...)
			r.check(t, want{counts: counts{accepted: 6, sessions: 2}})
			got := dumps()
			if len(got) != 6 {
				t.Fatalf("%d messages dumped, want 6", len(got))
			}
			for _, c := range got {
				// The sink's dump ends with one more LF.
				if c != file+"\n" {
					t.Errorf("dumped %q, want %q", c, file+"\n")
				}
			}
		})
	}
}

// acceptScript is the generic well-behaved server, with the extensions
// it advertises replaced.
func acceptScript(t *testing.T, ehlo string) string {
	t.Helper()
	const ext = `250-mx.example.com\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n` +
		`250 SIZE 52428800`
	script := string(cases.Script("accept"))
	if !strings.Contains(script, ext) {
		t.Fatal("accept script changed: cannot set its extensions")
	}
	return strings.Replace(script, ext, ehlo, 1)
}

// The MAIL parameters follow the server's extensions and the message:
// SIZE= its size without dot-stuffing, BODY=8BITMIME for 8-bit content,
// SMTPUTF8 for UTF-8 in a header; none after HELO.
func TestMailParameters(t *testing.T) {
	const all = `250-mx.example.com\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n` +
		`250 SIZE 52428800`
	ascii := "Subject: x\n\n..\n"
	body8 := "Subject: x\n\ncaf\xc3\xa9\n"
	head8 := "Subject: caf\xc3\xa9\n\nx\n"
	size := func(s string) string {
		return strconv.Itoa(len(strings.ReplaceAll(s, "\n", "\r\n")))
	}
	tests := []struct {
		name, ehlo, file string
		opts             []string
		mail             string // after MAIL FROM:<foo@vm>
	}{
		{"SIZE", all, ascii, []string{"--pipelining"},
			" SIZE=" + size(ascii)},
		{"8-bit body", all, body8, []string{"--pipelining"},
			" SIZE=" + size(body8) + " BODY=8BITMIME"},
		{"UTF-8 header", all, head8, []string{"--chunking"},
			" SIZE=" + size(head8) + " BODY=8BITMIME SMTPUTF8"},
		{"not offered", `250 mx.example.com`, body8,
			[]string{"--pipelining"}, ""},
		{"HELO", all, head8, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, acceptScript(t, tt.ehlo))
			path := writeFile(t, "m.eml", []byte(tt.file))
			args := append([]string{"-M", "vm", "-m", "1", "-F", path},
				tt.opts...)
			r := runCmd(t, append(args, srv.Addr)...)
			r.check(t, want{counts: counts{accepted: 1, sessions: 1}})
			checkServer(t, srv)
			cmds := commands(srv.Transcript(1))
			if len(cmds) < 2 || cmds[1] != "MAIL FROM:<foo@vm>"+tt.mail {
				t.Errorf("commands %q, want MAIL FROM:<foo@vm>%s", cmds,
					tt.mail)
			}
		})
	}
}

// UTF-8 in a header needs SMTPUTF8: a server after EHLO that does not
// offer it gets QUIT, and the run a fatal error.
func TestSMTPUTF8NotOffered(t *testing.T) {
	srv := startScript(t, `S 220 mx.example.com ESMTP
C EHLO .*
S 250-mx.example.com\r\n250 8BITMIME
C QUIT
S 221 Bye
EXPECT_EOF
`)
	r := runCmd(t, "--pipelining", "-S", "Grüße", "-m", "1", srv.Addr)
	r.check(t, want{code: 1, fatal: "SMTPUTF8 not advertised by " +
		"server: needed for UTF-8 in an address or header",
		counts: counts{failed: 1, sessions: 1}})
	checkServer(t, srv)
}

// --eml sends the files of a directory round robin, in the order of
// their names.
func TestEMLRoundRobin(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c", "a", "b"} {
		err := os.WriteFile(filepath.Join(dir, f+".eml"),
			[]byte("Subject: "+f+"\n\n."+f+"\n"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := startScript(t, acceptScript(t, `250 mx.example.com`),
		scripttest.Capture)
	r := runCmd(t, "--eml", dir, "-d", "-m", "5", srv.Addr)
	r.check(t, want{counts: counts{accepted: 5, sessions: 1}})
	checkServer(t, srv)

	var got []string
	for _, b := range srv.Bodies() {
		got = append(got, string(b))
	}
	var want []string
	for _, f := range []string{"a", "b", "c", "a", "b"} {
		want = append(want, "Subject: "+f+"\r\n\r\n."+f+"\r\n")
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bodies %q, want %q", got, want)
	}
}

func TestEMLErrors(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(empty, "none.eml")
	file := writeFile(t, "m.eml", []byte("x\n"))
	tests := []struct {
		name  string
		args  []string
		fatal string
	}{
		{"missing file", []string{"--eml", missing},
			"open " + missing + ": No such file or directory"},
		{"empty directory", []string{"--eml", empty},
			"no .eml files in " + empty},
		{"glob matches nothing", []string{"--eml", empty + "/*.eml"},
			"no message files match " + empty + "/*.eml"},
		{"with -F", []string{"--eml", empty, "-F", file},
			"do not use --eml with -F"},
		{"with -l", []string{"--eml", empty, "-l", "10"},
			"-l option cannot be used with --eml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, append(tt.args, closedPort(t))...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if got := r.diagnostics(fatalPrefix); len(got) != 1 ||
				got[0] != tt.fatal {
				t.Errorf("fatal lines %q, want %q", got, tt.fatal)
			}
		})
	}
}

// --unique-headers stamps every message with the run id, its number and
// the time it was sent; the run id is in the result document too.
func TestUniqueHeaders(t *testing.T) {
	for _, runID := range []string{"run-42", ""} {
		srv := startScript(t, acceptScript(t, `250 mx.example.com`),
			scripttest.Capture)
		args := []string{"--unique-headers", "-d", "-m", "3"}
		if runID != "" {
			args = append(args, "--run-id", runID)
		}
		out := filepath.Join(t.TempDir(), "result.json")
		start := time.Now()
		r := runCmd(t, append(args, "--out", out, srv.Addr)...)
		end := time.Now()
		r.check(t, want{counts: counts{accepted: 3, sessions: 1}})
		checkServer(t, srv)

		ids := map[string]bool{}
		for i, b := range srv.Bodies() {
			run, seq, sent, ok := message.ParseStamp(b)
			if !ok || seq != int64(i) || sent.Before(start.Add(
				-time.Second)) || sent.After(end) {
				t.Errorf("message %d: stamp %q %d %v %v in %q", i, run,
					seq, sent, ok, b)
			}
			if !strings.HasPrefix(string(b), "X-Smtp-Source-Run: ") ||
				!strings.Contains(string(b), "\r\nFrom: <foo@") {
				t.Errorf("message %d: stamp not on top of the headers: "+
					"%q", i, b)
			}
			ids[run] = true
		}
		want := runID
		if want == "" {
			for id := range ids {
				want = id
			}
			if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(want) {
				t.Errorf("random run id %q", want)
			}
		}
		if len(ids) != 1 || !ids[want] {
			t.Errorf("run ids %v, want only %q", ids, want)
		}
		if got := readResult(t, out).Config["run_id"]; got != want {
			t.Errorf("result document run_id %v, want %q", got, want)
		}
	}
}

func TestExtensionOptionErrors(t *testing.T) {
	tests := []struct {
		args  []string
		fatal string
	}{
		{[]string{"--chunk-size", "10"},
			"--chunk-size needs --chunking"},
		{[]string{"--chunking", "--chunk-size", "0"},
			`bad --chunk-size: "0" (want a positive byte count up to ` +
				`1g, such as 65536 or 64k)`},
		{[]string{"--chunking", "--chunk-size", "2g"},
			`bad --chunk-size: "2g" (want a positive byte count up to ` +
				`1g, such as 65536 or 64k)`},
		{[]string{"--unique-headers", "--run-id", "a b"},
			`bad run id "a b": use letters, digits and . _ : - only`},
	}
	for _, tt := range tests {
		r := runCmd(t, append(tt.args, closedPort(t))...)
		if got := r.diagnostics(fatalPrefix); r.code != 1 ||
			len(got) != 1 || got[0] != tt.fatal {
			t.Errorf("%q: exit %d, fatal %q, want 1, %q", tt.args, r.code,
				got, tt.fatal)
		}
	}
}
