package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// run calls Main and returns its status and outputs.
func run(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMainMergesTwoFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := typicalRun(2, 50), knownRun()
	fa := writeResult(t, dir, "a.json", a)
	fb := writeResult(t, dir, "b.json", b)

	// Options after the files work too.
	code, out, errs := run("", fa, fb, "--format", "json")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var s Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	m := s.Messages
	if m.Accepted != a.Messages.Accepted+b.Messages.Accepted ||
		m.Attempted != a.Messages.Attempted+b.Messages.Attempted ||
		m.TempFail != a.Messages.TempFail+b.Messages.TempFail {
		t.Errorf("merged messages %+v from %+v and %+v", m,
			a.Messages, b.Messages)
	}
	if got, want := s.Replies["MAIL 250"],
		a.Replies["MAIL 250"]+b.Replies["MAIL 250"]; got != want {
		t.Errorf("MAIL 250: %d, want %d", got, want)
	}
	tx, atx := s.Phases["transaction"], a.Phase(metrics.Transaction)
	if tx.Count != atx.Count+1000 || tx.MinNS != min(atx.MinNS, 1000) ||
		tx.MaxNS != max(atx.MaxNS, 1e6) {
		t.Errorf("merged transaction %+v from %+v", tx, atx)
	}
	// Both runs start at t0; the longer lasts 2 seconds.
	if s.ElapsedNS != 2e9 || s.RatePerS != float64(m.Accepted)/2 {
		t.Errorf("elapsed %d rate %v", s.ElapsedNS, s.RatePerS)
	}
}

func TestMainStdinAndOutput(t *testing.T) {
	var in bytes.Buffer
	if err := knownRun().Encode(&in); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.txt")
	code, out, errs := run(in.String(), "-o", path, "-")
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := Text(&want, knownRun()); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("-o file:\n%s\nwant:\n%s", got, want.String())
	}
}

func TestMainPartialWarns(t *testing.T) {
	dir := t.TempDir()
	f0 := writeResult(t, dir, "0.json", shardRun(t, 0, 0))
	f2 := writeResult(t, dir, "2.json", shardRun(t, 2, 0))
	code, out, errs := run("", f0, f2)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	want := "go-smtp-source: warning: report: partial merge: shards " +
		"[0 2] of 4, missing [1 3]\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	if !strings.HasPrefix(out, "WARNING     partial merge") {
		t.Errorf("report does not start with the warning:\n%s", out)
	}
}

// One shard's result alone is reported, with a word that it is not the
// whole run.
func TestMainOneShardWarns(t *testing.T) {
	f1 := writeResult(t, t.TempDir(), "1.json", shardRun(t, 1, 0))
	code, _, errs := run("", f1)
	want := "go-smtp-source: warning: report: one shard: shard 1 of 4, " +
		"without the run's other shards (merge them)\n"
	if code != 0 || errs != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errs, want)
	}
}

func TestMainErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeResult(t, dir, "good.json", typicalRun(1, 10))
	other := typicalRun(1, 10)
	other.RunID = "another-run"
	otherRun := writeResult(t, dir, "other.json", other)
	// Two shards of one run, one made with another -m.
	opts := func(name string, args ...string) string {
		r := typicalRun(1, 10)
		r.Config = map[string]any{"args": args}
		r.ConfigHash = "sha256:" + strings.Join(args, ",")
		return writeResult(t, dir, name, r)
	}
	m100 := opts("m100.json", "-s", "5", "-m", "100", "mx")
	m200 := opts("m200.json", "-s", "5", "-m", "200", "mx")
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte(`{"format": "go-smtp-source-result/1",`+
		"\n"+`"messages": {"accepted": -1}}`), 0o644)
	wrong := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrong, []byte(`{"format": "vegeta"}`), 0o644)

	cases := []struct {
		name string
		code int
		want string // in the one line on stderr
		args []string
	}{
		{"missing", 1, "missing.json: ", []string{
			filepath.Join(dir, "missing.json")}},
		{"garbage", 1, "garbage.json: decode result: ", []string{garbage}},
		{"format", 1, `unsupported result format "vegeta"`,
			[]string{good, wrong}},
		{"stdin", 1, "stdin: not a result document", []string{"-"}},
		{"runs", 1, "merge: run ids differ", []string{good, otherRun}},
		{"options", 1, "config hashes differ: " +
			`"sha256:-s,5,-m,100,mx" and "sha256:-s,5,-m,200,mx" ` +
			`(first difference: -m="100" in one, -m="200" in the other)`,
			[]string{m100, m200}},
		{"no file", 2, "report: no result file", nil},
		{"stdin twice", 2, `"-" given twice`, []string{"-", "-"}},
		{"same file twice", 1, "the same result is given twice",
			[]string{good, good}},
		{"bad format", 2, `unknown format "xml"`,
			[]string{"--format=xml", good}},
		{"bad option", 2, "unrecognized option '--bogus'",
			[]string{"--bogus", good}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := run("not json", c.args...)
			if code != c.code || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing",
					code, out, c.code)
			}
			lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
			if len(lines) != 1 || !strings.HasSuffix(errs, "\n") ||
				!strings.HasPrefix(errs, "go-smtp-source: fatal: ") ||
				!strings.Contains(errs, c.want) {
				t.Errorf("stderr %q, want one fatal line with %q",
					errs, c.want)
			}
		})
	}
}

func TestMainHelp(t *testing.T) {
	code, out, errs := run("", "--help")
	if code != 0 || errs != "" || !strings.HasPrefix(out, "usage: ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		args   []string
		format string
		output string
		files  []string
	}{
		{[]string{"a"}, "text", "", []string{"a"}},
		{[]string{"-fhtml", "a", "-", "b"}, "html", "", []string{"a", "-",
			"b"}},
		{[]string{"a", "-o", "x", "b", "--format", "json"}, "json", "x",
			[]string{"a", "b"}},
		{[]string{"--output=x", "--", "--format", "-o"}, "text", "x",
			[]string{"--format", "-o"}},
	}
	for _, c := range cases {
		o, err := parseArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if o.format != c.format || o.output != c.output ||
			strings.Join(o.files, "|") != strings.Join(c.files, "|") {
			t.Errorf("%q: got %+v, want %s %q %q", c.args, o, c.format,
				c.output, c.files)
		}
	}
}
