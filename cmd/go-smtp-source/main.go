// Command go-smtp-source is a drop-in replacement for Postfix's
// smtp-source(1): it sends generated or preformatted mail to an SMTP or
// LMTP server over many parallel sessions, and reports how it went.
//
// See docs/go-smtp-source.1 or run go-smtp-source --help.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/load"
	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/report"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

const prog = "go-smtp-source"

// Timeouts smtp-source lacks. They are generous enough never to fire on
// a healthy server and short enough that a silent one cannot hang a run.
const (
	defaultConnectTimeout = 60 * time.Second
	defaultBannerTimeout  = 300 * time.Second
	defaultReplyTimeout   = 300 * time.Second
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		// A host named "report" is still reachable as inet:report.
		return report.Main(args[1:], os.Stdin, stdout, stderr)
	}
	log := slog.New(cli.NewHandler(stderr, prog, slog.LevelWarn))
	fatal := func(msg string) int {
		log.Log(context.Background(), cli.LevelFatal, msg)
		return cli.ExitFatal
	}

	o, err := parseArgs(prog, args)
	if err != nil {
		return fatal(err.Error())
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, helpText)
		return cli.ExitOK
	case o.version:
		fmt.Fprintln(stdout, prog, version())
		return cli.ExitOK
	}

	if o.verbose > 0 {
		log = slog.New(cli.NewHandler(stderr, prog, slog.LevelInfo))
	}
	cfg, sk, err := buildConfig(o, log, stdout)
	if err != nil {
		return fatal(err.Error())
	}

	if o.cpuProfile != "" {
		stopProfile, err := startProfile(o.cpuProfile)
		if err != nil {
			return fatal(err.Error())
		}
		defer stopProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	defer stop()

	var m *measurement
	if !o.noMetrics {
		if m, err = startMeasuring(ctx, o, stderr, log); err != nil {
			if sk != nil {
				sk.stop()
			}
			return fatal(err.Error())
		}
		cfg.Metrics = m.rec
	}
	res, err := load.Run(ctx, cfg)
	var doc *metrics.Result
	if m != nil {
		doc = m.stop()
		doc.Config = map[string]any{"args": o.args, "target": o.target}
		if o.ext.runID != "" {
			// The X-Smtp-Source-Run of every message.
			doc.Config["run_id"] = o.ext.runID
		}
		doc.Time.Complete = ctx.Err() == nil
		if o.out != "" {
			if werr := writeResult(o.out, doc, stdout); werr != nil {
				log.Warn(werr.Error())
			}
		}
	}

	if o.counter > 0 && err == nil {
		fmt.Fprint(stdout, "\n")
	}
	if !o.noSummary {
		printSummary(stderr, res, doc)
	}
	if sk != nil {
		st := sk.stop()
		if !o.noSummary {
			fmt.Fprintln(stderr, sinkSummary(st))
		}
	}
	var f *load.Fatal
	switch {
	case errors.As(err, &f):
		return fatal(f.Msg)
	case err != nil:
		return fatal(err.Error())
	case ctx.Err() != nil:
		return fatal("interrupted")
	}
	return cli.ExitOK
}

// startProfile writes a CPU profile for go tool pprof to path until the
// returned function is called.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// printSummary writes the end-of-run summary: one line of counts, then,
// when the run was measured, the report's table, indented so that it
// never reads as a diagnostic.
func printSummary(w io.Writer, r load.Result, doc *metrics.Result) {
	printSummaryLine(w, r)
	if doc == nil {
		return
	}
	var b bytes.Buffer
	if err := report.Text(&b, doc); err != nil {
		fmt.Fprintf(w, "%s: summary table: %v\n", prog, err)
		return
	}
	for line := range strings.Lines(b.String()) {
		fmt.Fprint(w, "  "+line)
	}
}

// printSummaryLine writes the one-line summary of counts.
func printSummaryLine(w io.Writer, r load.Result) {
	rate := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		rate = float64(r.Accepted) / s
	}
	fmt.Fprintf(w, "%s: summary: accepted=%d failed=%d sessions=%d "+
		"elapsed=%.3fs rate=%.1f/s\n", prog, r.Accepted, r.Failed,
		r.Sessions, r.Elapsed.Seconds(), rate)
}

// buildConfig turns options into a run: it reads the -F file, resolves
// the target and builds the message generator.
func buildConfig(o *options, log *slog.Logger,
	stdout io.Writer) (load.Config, *builtinSink, error) {

	hostname := o.hostname
	if hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return load.Config{}, nil, fmt.Errorf(
				"cannot find my hostname: %w (use -M)", err)
		}
		hostname = h
	}

	gen, err := newGenerator(o, hostname)
	if err != nil {
		return load.Config{}, nil, err
	}
	tlsCfg, auth, err := o.secure()
	if err != nil {
		return load.Config{}, nil, err
	}

	dial, sk, err := newDialer(o, log)
	if err != nil {
		return load.Config{}, nil, err
	}

	seed := o.seed
	if !o.seedSet {
		seed = uint64(os.Getpid())
	}
	cfg := load.Config{
		Dial:            dial,
		Gen:             gen,
		Messages:        o.messages,
		Sessions:        o.sessions,
		Recipients:      o.recipients,
		Hostname:        hostname,
		LMTP:            o.lmtp,
		NoHelo:          o.oldMode,
		KeepOpen:        o.keepOpen,
		AllowReject:     o.allowReject,
		ConnectAttempts: o.connects,
		FixedDelay:      time.Duration(o.fixedDelay) * time.Second,
		RandomDelay:     o.randomDelay,
		Seed:            seed,
		Rate:            o.rate,
		Duration:        o.duration,
		MaxLateness:     o.maxLateness,
		StartTLS:        o.starttls != "",
		TLSOptional:     o.starttls == "opportunistic",
		TLS:             tlsCfg,
		ImplicitTLS:     o.sec.smtps,
		EHLO:            o.sec.ehlo,
		Pipelining:      o.ext.pipelining,
		Chunking:        o.ext.chunking,
		ChunkSize:       o.ext.chunkSize,
		Auth:            auth,
		Conn: smtp.Options{
			ReplyTimeout:  o.replyTO,
			BannerTimeout: o.bannerTO,
			TLSTimeout:    o.replyTO,
		},
		Log: log,
	}
	if o.verbose > 0 {
		cfg.Conn.Trace = traceTo(log)
	}
	if o.counter > 0 {
		cfg.Conn.Dot = counterTo(stdout)
	}
	return cfg, sk, nil
}

// newGenerator builds the message generator with smtp-source's defaults.
func newGenerator(o *options, hostname string) (*message.Generator,
	error) {

	defaddr := "foo@" + hostname
	cfg := message.Config{
		Hostname:          hostname,
		Sender:            defaddr,
		Recipient:         defaddr,
		RcptCount:         o.recipients,
		RcptSet:           o.rcptSet,
		Numbered:          o.numbered,
		Numbering:         message.NumberingPrepend,
		Length:            o.length,
		OldMode:           o.oldMode,
		Date:              time.Now(),
		PID:               os.Getpid(),
		PostfixFileCompat: o.fileCompat,
	}
	if o.numbering == "3.9" {
		cfg.Numbering = message.NumberingAppend
	}
	if o.sender != nil {
		cfg.Sender = *o.sender
	}
	if o.recipient != nil {
		cfg.Recipient = *o.recipient
	}
	if o.subject != nil {
		cfg.Subject, cfg.HasSubject = *o.subject, true
	}
	if o.file != "" {
		data, err := message.LoadFile(o.file)
		if err != nil {
			return nil, err
		}
		cfg.File, cfg.HasFile = data, true
	}
	if err := o.ext.messageSource(&cfg); err != nil {
		return nil, err
	}
	return message.New(cfg)
}

// traceTo prints the conversation as smtp-source -v does: each command
// before it is sent, each reply line as "<<< line".
func traceTo(log *slog.Logger) func(bool, []byte) {
	return func(out bool, line []byte) {
		if out {
			log.Info(string(line))
		} else {
			log.Info("<<< " + string(line))
		}
	}
}

// counterTo prints smtp-source's -c running counter: the number of
// messages whose final dot was sent, then a carriage return.
func counterTo(w io.Writer) func() {
	var mu sync.Mutex
	n := 0
	buf := make([]byte, 0, 24)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		n++
		buf = append(strconv.AppendInt(buf[:0], int64(n), 10), '\r')
		w.Write(buf)
	}
}

// cliMessage words a getopt error.
func cliMessage(prog string, err error) string {
	return cli.GetoptMessage(prog, err)
}
