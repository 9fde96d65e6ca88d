// Package cli holds what both commands share at the edge of the program:
// getopt(3)-style error wording, Postfix msg(3)-style diagnostics on
// stderr through log/slog, and the exit statuses.
//
// Postfix programs print "prog: warning: text" and "prog: fatal: text";
// scripts written for smtp-source and smtp-sink grep for those words, so
// the drop-ins keep them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// Exit statuses shared by both commands. Postfix's tools know only 0 and
// 1; the others are ours and documented in the man pages.
const (
	ExitOK    = 0 // every message was handed off
	ExitFatal = 1 // bad input or a fatal error, as smtp-source(1)
)

// LevelFatal is the slog level of a diagnostic that ends the program.
const LevelFatal = slog.Level(12)

// GetoptMessage words a parse error the way glibc's getopt(3) does, so
// that "invalid option -- 'x'" reads as it does from Postfix's tools.
func GetoptMessage(prog string, err error) string {
	var ge *getopt.Error
	if !errors.As(err, &ge) {
		return prog + ": " + err.Error()
	}
	long := strings.HasPrefix(ge.Name, "--")
	switch ge.ErrorCode {
	case getopt.UnknownOption:
		if long {
			return fmt.Sprintf("%s: unrecognized option '%s'", prog, ge.Name)
		}
		return fmt.Sprintf("%s: invalid option -- '%s'",
			prog, strings.TrimPrefix(ge.Name, "-"))
	case getopt.MissingParameter:
		if long {
			return fmt.Sprintf("%s: option '%s' requires an argument",
				prog, ge.Name)
		}
		return fmt.Sprintf("%s: option requires an argument -- '%s'",
			prog, strings.TrimPrefix(ge.Name, "-"))
	case getopt.ExtraParameter:
		return fmt.Sprintf("%s: option '%s' doesn't allow an argument",
			prog, ge.Name)
	}
	return fmt.Sprintf("%s: %s: %v", prog, ge.Name, ge.Err)
}

// Handler is a slog.Handler that writes Postfix msg(3)-style lines:
// "prog: text" for Info and Debug, "prog: warning: text" for Warn,
// "prog: error: text" for Error and "prog: fatal: text" for LevelFatal.
// Attributes follow the text as key=value pairs. Lines are written whole,
// one write each, so concurrent sessions never interleave within a line.
type Handler struct {
	mu    *sync.Mutex
	w     io.Writer
	prog  string
	level slog.Leveler
	attrs []slog.Attr
}

// NewHandler returns a Handler writing to w for the program prog, passing
// records at or above level.
func NewHandler(w io.Writer, prog string, level slog.Leveler) *Handler {
	return &Handler{mu: new(sync.Mutex), w: w, prog: prog, level: level}
}

// Enabled reports whether records at level l are written.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle writes one record as one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prog)
	b.WriteString(": ")
	switch {
	case r.Level >= LevelFatal:
		b.WriteString("fatal: ")
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	attr := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		attr(a)
	}
	r.Attrs(attr)
	b.WriteByte('\n')

	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// WithAttrs returns a Handler that adds attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &h2
}

// WithGroup is not used by this project; groups are flattened.
func (h *Handler) WithGroup(string) slog.Handler { return h }

// Operands parses args (without the program name) with set, letting
// options come before, between or after the operands, as GNU getopt
// permutes them; "--" ends the options. It returns the operands in
// order, or the parse error worded as getopt(3) words it, without the
// program name.
func Operands(set *getopt.Set, prog string, args []string) ([]string,
	error) {

	var operands []string
	for {
		err := set.Getopt(append([]string{prog}, args...), nil)
		if err != nil {
			return nil, errors.New(strings.TrimPrefix(
				GetoptMessage(prog, err), prog+": "))
		}
		rest := set.Args()
		if len(rest) == 0 || set.State() == getopt.DashDash {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// OutputAmongInputs refuses an output file that is also one of the
// input files (the same path, or another name for the same file): it
// would be overwritten with what was read from it.
func OutputAmongInputs(output string, inputs []string) error {
	if output == "" || output == "-" {
		return nil
	}
	out, err := os.Stat(output)
	if err != nil {
		return nil // not there yet: no input can be it
	}
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		if fi, err := os.Stat(in); err == nil && os.SameFile(out, fi) {
			return fmt.Errorf("--output %s is also an input: it would "+
				"be overwritten", output)
		}
	}
	return nil
}

// OpenOutput opens the file at path for writing a result (--out),
// creating it if missing; an existing file is neither truncated nor
// replaced, so that a run that fails early leaves it as it was. It
// reports whether it created the file. The error names the cause in
// glibc's words ("--out: open PATH: No such file or directory").
func OpenOutput(path string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	created = err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, os.O_WRONLY, 0)
	}
	if errors.Is(err, fs.ErrNotExist) && !created {
		// A symbolic link to a missing file, which O_EXCL refuses to
		// follow, or a file removed between the two opens.
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
		created = err == nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("--out: open %s: %s", path,
			target.ErrnoText(err))
	}
	return f, created, nil
}
