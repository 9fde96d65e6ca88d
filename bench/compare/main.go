// Command compare runs go-smtp-source and go-smtp-sink side by side with
// Postfix's smtp-source(1) and smtp-sink(1) on one machine over loopback,
// and reports, per scenario and tool, the median messages per second, CPU
// seconds per 10,000 messages and peak RSS, with the ratios ours/theirs.
//
// Each run starts a fresh sink on a new port, runs one client into it and
// checks that the sink counted every message. Within a scenario the two
// tools alternate (A B A B ...) after one warm-up run each.
//
// It is normally started by bench/compare.sh, which builds our tools
// first; see bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const prog = "compare"

// config is what the command line asks for.
type config struct {
	// The four programs compared, and GNU time, which measures them.
	source, sink               string
	postfixSource, postfixSink string
	timePath                   string

	repo     string          // the clone, for the commit
	runs     int             // counted runs per tool and scenario
	messages int             // messages per run (-m)
	expect   int             // messages the sink must count
	backlog  int             // listen backlog of the sink
	user     string          // the sink's -u when we run as root
	timeout  time.Duration   // limit for one client run
	only     map[string]bool // scenarios picked by name; nil: all
	out      string          // also write the report here
	list     bool            // only list the scenarios
	setFlags []string        // the flags given, for the report
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(2)
	}
	if cfg.list {
		listScenarios(os.Stdout)
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	defer stop()
	failed, err := runAll(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d scenario(s) FAILED\n", prog, failed)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs) }
	fs.StringVar(&cfg.source, "source", "",
		"our go-smtp-source `binary` (required)")
	fs.StringVar(&cfg.sink, "sink", "",
		"our go-smtp-sink `binary` (without it its scenarios are skipped)")
	fs.StringVar(&cfg.postfixSource, "postfix-source",
		"/usr/sbin/smtp-source", "Postfix's smtp-source `binary`")
	fs.StringVar(&cfg.postfixSink, "postfix-sink", "/usr/sbin/smtp-sink",
		"Postfix's smtp-sink `binary`")
	fs.StringVar(&cfg.timePath, "time", "/usr/bin/time",
		"GNU time `binary`, which measures peak RSS")
	fs.StringVar(&cfg.repo, "repo", ".", "the clone, for the commit")
	fs.IntVar(&cfg.runs, "runs", 5, "counted runs per tool and scenario")
	fs.IntVar(&cfg.messages, "messages", 10000, "messages per run")
	fs.IntVar(&cfg.expect, "expect", 0, "messages the sink must count "+
		"(default: -messages; another value tests the check)")
	fs.IntVar(&cfg.backlog, "backlog", 1024, "listen backlog of the sinks")
	fs.StringVar(&cfg.user, "user", "nobody",
		"the sinks' -u `user` when running as root")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Minute,
		"limit for one client run")
	only := fs.String("only", "",
		"comma-separated scenario `names` to run (default: all; see -list)")
	fs.StringVar(&cfg.out, "o", "", "also write the report to `file`")
	fs.BoolVar(&cfg.list, "list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return cfg, checkFlags(fs, cfg, *only)
}

// checkFlags validates the parsed flags and fills in what depends on
// others.
func checkFlags(fs *flag.FlagSet, cfg *config, only string) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.source == "" && !cfg.list {
		return errors.New("-source is required (bench/compare.sh gives it)")
	}
	if cfg.runs < 1 || cfg.messages < 1 {
		return errors.New("-runs and -messages must be at least 1")
	}
	if cfg.expect == 0 {
		cfg.expect = cfg.messages
	}
	if only != "" {
		cfg.only = map[string]bool{}
		for _, name := range strings.Split(only, ",") {
			name = strings.TrimSpace(name)
			if findScenario(name) == nil {
				return fmt.Errorf("unknown scenario %q (see -list)", name)
			}
			cfg.only[name] = true
		}
	}

	// Record what was asked, leaving out our binaries' temporary paths.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "source", "sink", "repo", "o":
			return
		}
		cfg.setFlags = append(cfg.setFlags, "-"+f.Name+" "+f.Value.String())
	})
	return nil
}

// printUsage prints the help text.
func printUsage(fs *flag.FlagSet) {
	fmt.Fprintf(fs.Output(), `usage: bench/compare.sh [options]
       %s -source go-smtp-source [-sink go-smtp-sink] [options]

Runs our tools and Postfix's side by side over loopback and prints a
Markdown report: median msg/s, CPU s per 10k messages, peak RSS, and the
ratios ours/theirs. See bench/README.md.

Options:
`, prog)
	fs.PrintDefaults()
}

// runAll runs the chosen scenarios and prints the report. It returns how many
// scenarios failed.
func runAll(ctx context.Context, cfg *config) (int, error) {
	if err := raiseNoFile(); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "compare-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	b := &bench{cfg: cfg, dir: dir, used: map[int]bool{}}
	rep := &report{cfg: cfg, machine: describeMachine(cfg),
		start: time.Now()}
	for _, sc := range scenarios {
		if cfg.only != nil && !cfg.only[sc.name] {
			continue
		}
		res, err := b.scenario(ctx, sc)
		if err != nil {
			return 0, err
		}
		rep.results = append(rep.results, res)
	}
	rep.end = time.Now()
	rep.loadEnd = loadAverage()
	return rep.failed(), rep.write()
}

// raiseNoFile lifts the open-file limit to its hard limit for the tools we
// start: 10,000 sessions need more than the usual 1,024 descriptors.
// Setting it here (and not relying on Go's own raise) makes children
// inherit it.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("get open-file limit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit: %w", err)
	}
	return nil
}
