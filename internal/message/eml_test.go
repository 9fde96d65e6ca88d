package message

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// emlDir makes a directory of message files for LoadEML.
func emlDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadEML(t *testing.T) {
	dir := emlDir(t, map[string]string{
		"b.eml": "B", "a.eml": "A", "c.EML": "C", "notes.txt": "T",
		"sub.eml/": "",
	})
	cases := []struct {
		name string
		spec string
		want []string // file contents, in order
	}{
		{"directory: *.eml in any case, sorted, no subdirectories",
			dir, []string{"A", "B", "C"}},
		{"glob", filepath.Join(dir, "*.txt"), []string{"T"}},
		{"glob skips directories", filepath.Join(dir, "s*"), nil},
		{"one file", filepath.Join(dir, "notes.txt"), []string{"T"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, paths, err := LoadEML(tc.spec)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("LoadEML(%s) = %q, want an error",
						tc.spec, paths)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, string(f))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("contents (-want +got):\n%s", diff)
			}
			if len(paths) != len(files) {
				t.Errorf("%d paths for %d files", len(paths), len(files))
			}
		})
	}
}

func TestLoadEMLErrors(t *testing.T) {
	empty := t.TempDir()
	dangling := emlDir(t, map[string]string{"a.eml": "A"})
	if err := os.Symlink(filepath.Join(dangling, "gone"),
		filepath.Join(dangling, "b.eml")); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(empty, "missing.eml")

	cases := []struct {
		name, spec, want string
		is               error
	}{
		{"missing file", missing,
			"open " + missing + ": No such file or directory",
			fs.ErrNotExist},
		{"no .eml in directory", empty, "no .eml files in " + empty, nil},
		{"glob matches nothing", filepath.Join(empty, "*.eml"),
			"no message files match " + filepath.Join(empty, "*.eml"),
			nil},
		{"unreadable file in directory", dangling,
			"open " + filepath.Join(dangling, "b.eml") +
				": No such file or directory", fs.ErrNotExist},
		{"bad pattern", "[", "bad pattern [: syntax error in pattern",
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadEML(tc.spec)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("LoadEML(%s) error = %v, want %q", tc.spec,
					err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// Message g is file g mod n, dot-stuffed with CRLF for DATA and as the
// file was (line ends normalised) for BDAT, without generated headers.
func TestEMLRoundRobin(t *testing.T) {
	cfg := baseConfig()
	cfg.EML = [][]byte{
		[]byte("Subject: one\n\n.dot\nend\n"),
		[]byte("Subject: two\r\n\r\nplain\r\n"),
		[]byte("Subject: three\n\nno final newline"),
	}
	g := mustNew(t, cfg)
	stuffed := []string{
		"Subject: one\r\n\r\n..dot\r\nend\r\n",
		"Subject: two\r\n\r\nplain\r\n",
		"Subject: three\r\n\r\nno final newline\r\n",
	}
	raw := []string{
		"Subject: one\r\n\r\n.dot\r\nend\r\n",
		stuffed[1], stuffed[2],
	}
	for seq := int64(0); seq < 7; seq++ {
		i := seq % 3
		if got := string(g.AppendContent(nil, seq, 0)); got != stuffed[i] {
			t.Errorf("message %d: content %q, want %q", seq, got,
				stuffed[i])
		}
		if got := string(g.RawBody(seq)); got != raw[i] {
			t.Errorf("message %d: raw body %q, want %q", seq, got, raw[i])
		}
		if head := g.AppendHead(nil, seq, 0); len(head) != 0 {
			t.Errorf("message %d: generated head %q with --eml", seq,
				head)
		}
	}
	if n := g.SizeHint(); n < len(stuffed[2]) {
		t.Errorf("SizeHint() = %d, shorter than a message", n)
	}
}

// A body without dot-stuffing is shared, not copied.
func TestRawBodyShared(t *testing.T) {
	g := mustNew(t, baseConfig())
	if &g.RawBody(0)[0] != &g.Body(0)[0] {
		t.Error("RawBody copies a body that has no stuffed dot")
	}
}

func TestEMLExcludesOtherBodies(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"-l": func(c *Config) { c.Length = 10 },
		"-F": func(c *Config) { c.File, c.HasFile = []byte("x\n"), true },
	} {
		cfg := baseConfig()
		cfg.EML = [][]byte{[]byte("x\n")}
		edit(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("--eml with %s: no error", name)
		}
	}
}
