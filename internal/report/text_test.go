package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestTextGolden(t *testing.T) {
	merged, err := metrics.Merge(shardRun(t, 0, 0), shardRun(t, 2, 0),
		shardRun(t, 3, 5e9))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		r    *metrics.Result
	}{
		{"typical", typicalRun(3, 200)},
		{"troubled", troubledRun()},
		{"partial", merged},
		{"empty", emptyRun()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Text(&b, c.r); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", c.name+".txt"), b.String())
		})
	}
}

// golden compares got with the file at path, or rewrites the file
// with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// TestTextCompact checks that a typical end-of-run summary stays short
// and narrow enough for a terminal, and has no trailing blanks.
func TestTextCompact(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, typicalRun(2, 100)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) > 24 {
		t.Errorf("%d lines, want at most 24:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("line of %d columns: %q", n, l)
		}
		if strings.TrimRight(l, " ") != l {
			t.Errorf("trailing blanks: %q", l)
		}
	}
}

// TestTextSections checks what each section holds on a run whose
// numbers are easy to count, independently of the golden files.
func TestTextSections(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, troubledRun()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"WARNING     stopped early: the run is incomplete\n",
		"target      [192.0.2.7]:2525\n",
		"messages    40 attempted: 32 accepted, 0 tempfail, 0 permfail, " +
			"4 error, 4 unknown\n",
		"success     80.00%, 16.0 msg/s\n",
		"schedule    4 late, 4 dropped\n",
		"CONNECT refused 4",
		"EOD timeout     4",
		"STARTTLS 220",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, row := range []string{"starttls", "  intended", "eod"} {
		if !strings.Contains(out, "\n"+row+" ") {
			t.Errorf("phase table lacks %q:\n%s", row, out)
		}
	}
	if strings.Contains(out, "\nauth ") {
		t.Errorf("phase table shows auth, never seen:\n%s", out)
	}
}
