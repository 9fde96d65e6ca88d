package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/pborman/getopt/v2"
)

// prog is the program name diagnostics start with.
const prog = "go-smtp-source"

// exitUsage is the exit status of a usage error.
const exitUsage = 2

// Usage is the report subcommand's help text.
const Usage = "usage: go-smtp-source report [--format text|json|html] " +
	"[-o FILE] FILE...\n" + `
Read one or more result documents (written by go-smtp-source --out; "-"
reads standard input), merge them exactly when there are several
(counters summed, histograms merged, rates over the union of the time
windows) and print a report. A receiver's result (go-smtp-sink --out)
is not merged with the sender's: it is paired with it, by run id, and
the report adds the delivery: sent, arrived, lost, duplicated, out of
order, and the latency from send to arrival.

  -f, --format FORMAT  text (the default), json or html
  -o, --output FILE    write the report to FILE instead of standard output
  -h, --help           print this help

Results of different runs (run ids or config hashes that differ) are
refused. A merge that lacks some shards of a distributed run is reported
with a warning.

Examples:
  go-smtp-source report run.json
  go-smtp-source report --format html -o run.html shard-*.json
  go-smtp-source report --format json - < run.json
  go-smtp-source report source.json sink.json

Exit status: 0 on success, 1 when a file cannot be read, decoded or
merged, 2 on a usage error.
`

// writers maps a --format value to its report writer.
var writers = map[string]func(io.Writer, *Summary) error{
	"text": writeText,
	"json": writeJSON,
	"html": writeHTML,
}

// options are the subcommand's parsed arguments.
type options struct {
	format string
	output string
	help   bool
	files  []string
}

// Main runs the report subcommand and returns its exit status. args
// are the arguments after "report"; "-" as a file reads stdin.
// Diagnostics go to stderr as one line, "go-smtp-source: fatal: ...",
// or "go-smtp-source: warning: ..." for a partial merge.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(cli.NewHandler(stderr, prog, slog.LevelWarn))
	fatal := func(status int, msg string) int {
		msg = strings.ReplaceAll(msg, "\n", " ")
		log.Log(context.Background(), cli.LevelFatal, msg)
		return status
	}

	o, err := parseArgs(args)
	if err != nil {
		return fatal(exitUsage, "report: "+err.Error()+" (try --help)")
	}
	if o.help {
		io.WriteString(stdout, Usage)
		return cli.ExitOK
	}

	s, err := load(o.files, stdin)
	if err != nil {
		return fatal(cli.ExitFatal, err.Error())
	}
	oneShard := s.Shard != nil && s.Shard.Merged == nil && s.Shard.Count > 1
	if s.Partial || oneShard {
		// Not the whole run: said where a script sees it too.
		log.Warn("report: " + s.Warnings[0])
	}
	if err := output(o, s, stdout); err != nil {
		return fatal(cli.ExitFatal, err.Error())
	}
	return cli.ExitOK
}

// parseArgs parses the options, which may come before, between or
// after the files (as GNU getopt permutes them); "--" ends them.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	set := getopt.New()
	set.SetProgram(prog)
	format := set.StringLong("format", 'f', "text")
	output := set.StringLong("output", 'o', "")
	help := set.BoolLong("help", 'h')

	files, err := cli.Operands(set, prog, args)
	if err != nil {
		return nil, err
	}
	o.files = files

	o.format, o.output, o.help = *format, *output, *help
	switch {
	case o.help:
	case writers[o.format] == nil:
		return nil, fmt.Errorf("unknown format %q (want text, json "+
			"or html)", o.format)
	case len(o.files) == 0:
		return nil, errors.New("no result file")
	case countOf(o.files, "-") > 1:
		return nil, errors.New(`"-" given twice: standard input ` +
			"is read once")
	}
	if err := cli.OutputAmongInputs(o.output, o.files); err != nil {
		return nil, err
	}
	return o, nil
}

// countOf counts s in list.
func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// load decodes the files, merges the senders' results and the
// receivers' (go-smtp-sink --out) when there are several, and pairs
// them.
func load(files []string, stdin io.Reader) (*Summary, error) {
	var rs []*metrics.Result
	for _, name := range files {
		r, err := decodeFile(name, stdin)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	sender, receiver, err := pair(rs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(files, ", "), err)
	}
	return summarizePair(sender, receiver)
}

// decodeFile reads one result document; "-" is stdin.
func decodeFile(name string, stdin io.Reader) (*metrics.Result, error) {
	rd, what := stdin, "stdin"
	if name != "-" {
		what = name
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		rd = f
	}
	r, err := metrics.Decode(rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return r, nil
}

// output writes the report to stdout or to the --output file, which
// it writes only once the report is complete.
func output(o *options, s *Summary, stdout io.Writer) error {
	if o.output == "" {
		return writers[o.format](stdout, s)
	}
	var b bytes.Buffer
	if err := writers[o.format](&b, s); err != nil {
		return err
	}
	return os.WriteFile(o.output, b.Bytes(), 0o644)
}
