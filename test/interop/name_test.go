package interop_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// TestInstalledAsSmtpSource runs ours under the name smtp-source, as a
// drop-in is installed, beside Postfix's run by the same name: the
// diagnostics name the program alike ("smtp-source: fatal: ...").
func TestInstalledAsSmtpSource(t *testing.T) {
	theirs := postfixtest.SourcePath(t)
	ours := postfixtest.SourceUnderTest(t)
	if postfixtest.IsPostfix(ours) {
		t.Skip("the source under test is Postfix's")
	}

	args := []string{"-m", "0", "127.0.0.1:25"}
	run := func(bin string) (string, int) {
		t.Helper()
		dir := t.TempDir()
		link := filepath.Join(dir, "smtp-source")
		if err := os.Symlink(bin, link); err != nil {
			t.Fatal(err)
		}
		// As a shell runs it from $PATH: argv[0] is the bare name.
		cmd := &exec.Cmd{Path: link,
			Args: append([]string{"smtp-source"}, args...)}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stderr.String(), code
	}

	want, wantCode := run(theirs)
	got, gotCode := run(ours)
	if want != "smtp-source: fatal: bad message count: 0\n" {
		t.Fatalf("Postfix's smtp-source said %q; this test expects "+
			"its 'bad message count' line", want)
	}
	if got != want || gotCode != wantCode {
		t.Errorf("ours as smtp-source: %q, exit %d; Postfix's: %q, "+
			"exit %d", got, gotCode, want, wantCode)
	}
}
