package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// A run that ends before it has a result leaves no --out file it made
// (report and merge would read an empty one as a broken result), and
// leaves a file that was there as it was.
func TestNoEmptyOutFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"unresolvable", []string{"nosuch.invalid:25"}, 1},
		{"missed start", []string{"--start-at", "2020-01-01T00:00:00Z",
			"sink:"}, 3},
	}
	for _, c := range cases {
		out := filepath.Join(dir, c.name+".json")
		var stdout, stderr bytes.Buffer
		args := append([]string{"--out", out}, c.args...)
		if code := run(args, &stdout, &stderr); code != c.code {
			t.Fatalf("%s: exit %d, want %d\n%s", c.name, code, c.code,
				stderr.String())
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: --out file left behind (stat: %v)", c.name,
				err)
		}
	}

	kept := filepath.Join(dir, "kept.json")
	if err := os.WriteFile(kept, []byte("earlier"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	run([]string{"--out", kept, "nosuch.invalid:25"}, io.Discard, &stderr)
	if b, err := os.ReadFile(kept); err != nil || string(b) != "earlier" {
		t.Errorf("an existing --out file became %q (%v)", b, err)
	}
}

// smtp-source ignores SIGPIPE: with -c into a reader that goes away, the
// run goes on to its end, keeps its result and exits 0.
func TestCounterIntoClosedPipe(t *testing.T) {
	bin := postfixtest.GoBuild(t, "./cmd/go-smtp-source")
	out := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(bin, "-c", "-m", "3000", "-s", "10",
		"--no-summary", "--out", out, "sink:")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	// Read the first bytes of the counter, then go away, as head -c.
	if _, err := io.ReadFull(pr, make([]byte, 5)); err != nil {
		t.Fatalf("reading the counter: %v", err)
	}
	pr.Close()

	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v after the reader left\n%s", err, stderr.String())
	}
	if res := readResult(t, out); res.Messages.Accepted != 3000 {
		t.Errorf("accepted %d, want 3000", res.Messages.Accepted)
	}
}
