package message

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fileContent returns the content of a -F run with the given file bytes.
func fileContent(t testing.TB, raw []byte, compat bool) string {
	t.Helper()
	cfg := baseConfig()
	cfg.File, cfg.HasFile, cfg.PostfixFileCompat = raw, true, compat
	return string(mustNew(t, cfg).AppendContent(nil, 0, 0))
}

// The hard cases C10 and C12: each testdata/file/NAME.eml must go out
// exactly as NAME.wire.
func TestFileCases(t *testing.T) {
	inputs, err := filepath.Glob("testdata/file/*.eml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := LoadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(in, ".eml") +
				".wire")
			if err != nil {
				t.Fatal(err)
			}
			if got := fileContent(t, raw, false); got != string(want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestFileStuffing(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty file", "", ""},
		{"one empty line", "\n", "\r\n"},
		{"lone dot", ".", "..\r\n"},
		{"dot lines", ".\n..\n.x\r\nx.\n", "..\r\n...\r\n..x\r\nx.\r\n"},
		{"dot after bare CR", "a\r.b", "a\r\n..b\r\n"},
		{"CR then CRLF", "a\r\r\nb", "a\r\n\r\nb\r\n"},
		{"LF CR", "a\n\rb", "a\r\n\r\nb\r\n"},
		{"trailing CR", "a\r", "a\r\n"},
		{"blank lines kept", "a\n\n\nb\n", "a\r\n\r\n\r\nb\r\n"},
		{"dot not at start", "a .b\n", "a .b\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fileContent(t, []byte(tc.in), false)
			if got != tc.want {
				t.Errorf("file %q: got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// With PostfixFileCompat the bytes are smtp-source 3.7's, including the
// example verified on the wire in the Postfix reference.
func TestFileCompat(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			"reference example",
			"Subject: t\n\n.leading dot\nline2\r\n..two\nnoeol",
			"Subject: t\r\n\r\n..leading dot\r\nline2\r\r\n" +
				"...two\r\nnoeol\r\n\r\n",
		},
		// smtp-source 3.7 on the wire: its built-in body, no headers.
		{"empty file", "", builtinBody},
		{"one empty line", "\n", "\r\n\r\n"},
		{"bare CR kept", "A\rB\n", "A\rB\r\n\r\n"},
		{"CR before LF kept", ".\r\n", "..\r\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := fileContent(t, []byte(tc.in), true)
			if got != tc.want {
				t.Errorf("file %q: got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzStuffFile checks the wire invariants of a -F file's content: only
// CRLF line endings, and un-stuffing gives back the file's lines.
func FuzzStuffFile(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/file/*.eml")
	for _, in := range inputs {
		raw, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("a\r\r\n.\r"))

	f.Fuzz(func(t *testing.T, raw []byte) {
		out := stuffFile(raw)
		if len(raw) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("%q: content %q does not end in CRLF", raw, out)
		}
		if len(raw) == 0 && len(out) != 0 {
			t.Fatalf("empty file gave %q", out)
		}
		if bytes.Count(out, []byte{'\r'}) !=
			bytes.Count(out, []byte("\r\n")) ||
			bytes.Count(out, []byte{'\n'}) !=
				bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("%q: content %q has a bare CR or LF", raw, out)
		}

		// Un-stuff and compare with the file's lines, any ending
		// taken as one line break.
		var lines []string
		for _, l := range strings.SplitAfter(string(out), "\r\n") {
			l = strings.TrimSuffix(l, "\r\n")
			if strings.HasPrefix(l, ".") {
				l = l[1:]
			} else if l != "" && l[0] == '.' {
				t.Fatalf("unstuffed line %q", l)
			}
			lines = append(lines, l)
		}
		norm := strings.NewReplacer("\r\n", "\n", "\r", "\n").
			Replace(string(raw))
		if norm != "" && !strings.HasSuffix(norm, "\n") {
			norm += "\n"
		}
		if got := strings.Join(lines, "\n"); got != norm {
			t.Fatalf("%q: un-stuffed %q, want %q", raw, got, norm)
		}
	})
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.eml")

	_, err := LoadFile(missing)
	want := "open " + missing + ": No such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile(missing) error = %v, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}

	_, err = LoadFile(dir)
	want = "read " + dir + ": Is a directory"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile(dir) error = %v, want %q", err, want)
	}
}
