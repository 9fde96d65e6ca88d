package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pborman/getopt/v2"
)

func TestGetoptMessage(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"p", "-x"}, "p: invalid option -- 'x'"},
		{[]string{"p", "-s"}, "p: option requires an argument -- 's'"},
		{[]string{"p", "--nope"}, "p: unrecognized option '--nope'"},
		{[]string{"p", "--count"},
			"p: option '--count' requires an argument"},
	}
	for _, c := range cases {
		set := getopt.New()
		set.StringLong("count", 's', "", "")
		err := set.Getopt(c.args, nil)
		if err == nil {
			t.Fatalf("%q: no error", c.args)
		}
		if got := GetoptMessage("p", err); got != c.want {
			t.Errorf("%q: got %q, want %q", c.args, got, c.want)
		}
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, "prog", slog.LevelInfo))
	log.Debug("hidden")
	log.Info("MAIL FROM:<a@b>")
	log.Warn("connect: Connection refused")
	log.Log(context.Background(), LevelFatal, "bad message count: 0")
	log.With("n", 3).Error("x")
	want := "prog: MAIL FROM:<a@b>\n" +
		"prog: warning: connect: Connection refused\n" +
		"prog: fatal: bad message count: 0\n" +
		"prog: error: x n=3\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestOperands(t *testing.T) {
	cases := []struct {
		args []string
		want string // operands joined by |, or the error
	}{
		{[]string{"a", "-v", "b"}, "a|b"},
		{[]string{"-v", "a", "b", "-v"}, "a|b"},
		{[]string{"a", "--", "-v", "b"}, "a|-v|b"},
		{[]string{"a", "-x"}, "invalid option -- 'x'"},
		{nil, ""},
	}
	for _, c := range cases {
		set := getopt.New()
		v := set.BoolLong("verbose", 'v')
		got, err := Operands(set, "p", c.args)
		s := strings.Join(got, "|")
		if err != nil {
			s = err.Error()
		}
		if s != c.want {
			t.Errorf("%q: got %q, want %q", c.args, s, c.want)
		}
		if c.want == "a|b" && !*v {
			t.Errorf("%q: -v not seen", c.args)
		}
	}
}

func TestOutputAmongInputs(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.json")
	link := filepath.Join(dir, "link.json")
	other := filepath.Join(dir, "other.json")
	for _, p := range []string{in, other} {
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	refused := []struct{ out, in string }{{in, in}, {link, in}, {in, link}}
	for _, c := range refused {
		if OutputAmongInputs(c.out, []string{other, c.in}) == nil {
			t.Errorf("output %s with input %s: no error", c.out, c.in)
		}
	}
	allowed := []string{"", "-", other, filepath.Join(dir, "new.json")}
	for _, out := range allowed {
		if err := OutputAmongInputs(out, []string{in, "-"}); err != nil {
			t.Errorf("output %q: %v", out, err)
		}
	}
}
