package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// "report" as the first argument is the report command; a host of that
// name is reached as inet:report.
func TestReportDispatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "missing.json")
	if code := run([]string{"report", missing}, &stdout,
		&stderr); code != 1 {
		t.Errorf("report of a missing file: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "missing.json") {
		t.Errorf("error does not name the file: %q", stderr.String())
	}

	o, err := parseArgs(prog, []string{"-m", "2", "inet:report"})
	if err != nil || o.target != "inet:report" {
		t.Errorf("inet:report: target %q, err %v", o.target, err)
	}
}

// A result written with --out reads back through the report command.
func TestReportOfOwnResult(t *testing.T) {
	_, addr := startTestSink(t)
	out := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--out", out, "-m", "20", "-s", "2", addr},
		&stdout, &stderr); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"report", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "20 accepted") {
		t.Errorf("report does not show 20 accepted:\n%s", stdout.String())
	}
}
