// Package merge is go-smtp-source's merge subcommand: it reads the
// results of a distributed run's shards, from result files or from the
// logs the engine collected (frames written by --out -), checks that
// they are one run with every shard exactly once, and writes the exact
// merge as one result document.
package merge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// prog is the program name diagnostics start with.
const prog = "go-smtp-source"

// exitUsage is the exit status of a usage error.
const exitUsage = 2

// Usage is the merge subcommand's help text.
const Usage = `usage: go-smtp-source merge [options] FILE...
       go-smtp-source merge [options] --from-logs [LOG...]

Merge the results of a distributed run's shards exactly (counters
summed, histograms merged, time windows united) into one result
document, for go-smtp-source report.

  --from-logs          the inputs are logs holding results framed by
                       --out - (kubectl logs, Slurm output files...);
                       without a LOG, read standard input
  --allow-partial      merge even when shards are missing (the result
                       is marked partial and the missing ones named)
  --run-id ID          use only the results of run ID (logs of several
                       runs)
  -o, --output FILE    write the result to FILE, not standard output
  -h, --help           print this help

Every shard 0..N-1 of the run must be present exactly once; results of
different runs, option sets (config hashes) or shard counts are refused.
"-" as a file reads standard input.

Examples:
  go-smtp-source merge -o run.json shard-*.json
  kubectl logs -l go-smtp-source/run=r1 --tail=-1 --prefix |
      go-smtp-source merge --from-logs > r1.json
  go-smtp-source merge --from-logs results/shard-*.out -o run.json

Exit status: 0 on success, 1 when an input cannot be read or the
results cannot be merged, 2 on a usage error.
`

// options are the subcommand's parsed arguments.
type options struct {
	fromLogs     bool
	allowPartial bool
	runID        string
	output       string
	help         bool
	files        []string
}

// Main runs the merge subcommand and returns its exit status. args are
// the arguments after "merge". Diagnostics go to stderr as one line
// each: "go-smtp-source: fatal: merge: ..." or "...: warning: ...".
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := slog.New(cli.NewHandler(stderr, prog, slog.LevelWarn))
	fatal := func(status int, msg string) int {
		msg = strings.ReplaceAll(msg, "\n", " ")
		// metrics.Merge's errors already start with "merge: ".
		if !strings.HasPrefix(msg, "merge: ") {
			msg = "merge: " + msg
		}
		log.Log(context.Background(), cli.LevelFatal, msg)
		return status
	}

	o, err := parseArgs(args)
	if err != nil {
		return fatal(exitUsage, err.Error()+" (try --help)")
	}
	if o.help {
		io.WriteString(stdout, Usage)
		return cli.ExitOK
	}

	ins, warnings, err := read(o, stdin)
	if err != nil {
		return fatal(cli.ExitFatal, err.Error())
	}
	res, more, err := mergeInputs(ins, o.allowPartial)
	if err != nil {
		return fatal(cli.ExitFatal, err.Error())
	}
	for _, w := range append(warnings, more...) {
		log.Warn("merge: " + w)
	}
	if err := write(o.output, res, stdout); err != nil {
		return fatal(cli.ExitFatal, err.Error())
	}
	return cli.ExitOK
}

// parseArgs parses the options, which may come before, between or
// after the files, as GNU getopt permutes them; "--" ends them.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	set := getopt.New()
	set.SetProgram(prog)
	fromLogs := set.BoolLong("from-logs", 0)
	partial := set.BoolLong("allow-partial", 0)
	runID := set.StringLong("run-id", 0, "")
	output := set.StringLong("output", 'o', "")
	help := set.BoolLong("help", 'h')

	files, err := cli.Operands(set, prog, args)
	if err != nil {
		return nil, err
	}
	o.files = files

	o.fromLogs, o.allowPartial, o.help = *fromLogs, *partial, *help
	o.runID, o.output = *runID, *output
	switch {
	case o.help:
	case len(o.files) == 0 && o.fromLogs:
		o.files = []string{"-"}
	case len(o.files) == 0:
		return nil, errors.New("no result file (or --from-logs)")
	}
	if err := cli.OutputAmongInputs(o.output, o.files); err != nil {
		return nil, err
	}
	return o, nil
}

// write writes the merged result to stdout or to path, which it writes
// only once the document is complete.
func write(path string, res *metrics.Result, stdout io.Writer) error {
	var b bytes.Buffer
	if err := res.Encode(&b); err != nil {
		return err
	}
	if path == "" || path == "-" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
