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
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/cores"
	"github.com/go-smtp-source/go-smtp-source/internal/load"
	"github.com/go-smtp-source/go-smtp-source/internal/merge"
	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/report"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
)

// name is the program's own name, for --version.
const name = "go-smtp-source"

// prog names the program in its diagnostics ("PROG: fatal: ..."): the
// last element of the name it was run as, so that a copy installed as
// smtp-source says "smtp-source: fatal: ...", as Postfix's does, while
// go run's temporary path still reads go-smtp-source. main sets it
// once, before anything runs; tests run as go-smtp-source.
var prog = name

// Timeouts smtp-source lacks. They are generous enough never to fire on
// a healthy server and short enough that a silent one cannot hang a run.
const (
	defaultConnectTimeout = 60 * time.Second
	defaultBannerTimeout  = 300 * time.Second
	defaultReplyTimeout   = 300 * time.Second
)

// defaultConnectLimit is how many connects may be in progress at once
// (--connect-limit). smtp-source allows one, to spare the server a SYN
// flood, and to a distant server that is one connect per round trip.
// With no limit, -s 1000 spent its first 0.12 s connecting before any
// message went out, and sessions' connect times included waiting for
// the others' (a median of 46 ms on loopback); with eight, the first
// message left after 0.02 s, and the run took as long.
const defaultConnectLimit = 8

func main() {
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) != "." {
		prog = filepath.Base(os.Args[0])
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		// A host named "report" or "merge" is still reachable as
		// inet:report or inet:merge.
		switch args[0] {
		case "report":
			return report.Main(args[1:], os.Stdin, stdout, stderr)
		case "merge":
			return merge.Main(args[1:], os.Stdin, stdout, stderr)
		}
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
		fmt.Fprintln(stdout, name, version())
		return cli.ExitOK
	}

	if o.verbose > 0 {
		log = slog.New(cli.NewHandler(stderr, prog, slog.LevelInfo))
	}
	created, err := checkOut(o.out)
	if err != nil {
		return fatal(err.Error())
	}
	if created {
		// A run that ends before it has a result (a target that
		// does not resolve, a missed start) leaves no empty file
		// for report and merge to trip on.
		defer removeIfEmpty(o.out)
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

	// As smtp-source: a reader of -c's counter or of --out - that goes
	// away (| head) makes writes fail, not the run die with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)

	stop := newStopper(o.replyTO)
	defer stop.close()
	cfg.Drain = stop.soft.Done()
	return send(stop, o, cfg, sk, log, stdout, stderr)
}

// send waits for the start, runs the load, writes the result and the
// summary, and returns the exit status.
func send(stop *stopper, o *options, cfg load.Config, sk *builtinSink,
	log *slog.Logger, stdout, stderr io.Writer) int {

	fatal := func(status int, msg string) int {
		log.Log(context.Background(), cli.LevelFatal, msg)
		return status
	}
	early := func(status int, msg string) int {
		if sk != nil {
			sk.stop()
		}
		return fatal(status, msg)
	}

	// Everything that can be made ready is, before the start: the
	// target is resolved, the TLS material loaded, and the metrics
	// endpoint serves /readyz.
	var ep *endpoint
	if o.metricsAddr != "" {
		var err error
		if ep, err = startEndpoint(o.metricsAddr, log); err != nil {
			return early(cli.ExitFatal, err.Error())
		}
		defer ep.close()
	}
	started, err := waitStart(stop.soft, o)
	if err != nil {
		if errors.Is(err, shard.ErrLate) {
			return early(shard.ExitLate, err.Error())
		}
		return early(shard.ExitTerminated, "stopped before the start")
	}
	cfg.Start = o.dist.startAt

	var m *measurement
	if !o.noMetrics {
		if m, err = startMeasuring(stop.hard, o, started, ep,
			stderr); err != nil {
			return early(cli.ExitFatal, err.Error())
		}
		cfg.Metrics = m.rec
	}
	res, err := runLoad(stop.hard, cfg, log)
	var doc *metrics.Result
	var lost error // the --out result, when it could not be written
	if m != nil {
		doc = m.stop()
		describe(doc, o)
		doc.Time.Complete = !stop.stopped() && err == nil
		if o.out != "" {
			lost = writeResult(o, doc, stdout)
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
	status := exitStatus(err, stop, log)
	if lost != nil && status == cli.ExitOK {
		// The run went well, but what was asked to keep of it is lost.
		log.Log(context.Background(), cli.LevelFatal, lost.Error())
		status = cli.ExitFatal
	} else if lost != nil {
		log.Warn(lost.Error())
	}
	if ep != nil && o.linger > 0 {
		// The last values are served until scraped, or a signal.
		lingerFor(stop.soft, o.linger)
	}
	return status
}

// runLoad runs the load with the processors fitted to it. Sessions wait
// on the network most of the time, and one processor serves them until
// it is not enough and a core is free (package cores). That holds for a
// single session too, which waits in blocking system calls (newDialer):
// on one processor it sent 1.2 to 1.6 times the messages per second it
// did on two (bench/README.md).
func runLoad(ctx context.Context, cfg load.Config,
	log *slog.Logger) (load.Result, error) {

	stopCores := cores.Start(ctx, log)
	defer stopCores()
	return load.Run(ctx, cfg)
}

// exitStatus reports how the run ended, with a diagnostic line.
func exitStatus(err error, stop *stopper, log *slog.Logger) int {
	var f *load.Fatal
	switch {
	case errors.As(err, &f):
		log.Log(context.Background(), cli.LevelFatal, f.Msg)
		return cli.ExitFatal
	case err != nil:
		log.Log(context.Background(), cli.LevelFatal, err.Error())
		return cli.ExitFatal
	case stop.stopped():
		log.Warn("stopped by a signal: no new transactions were " +
			"started; the result is partial")
		return shard.ExitTerminated
	}
	return cli.ExitOK
}

// lingerFor sleeps d, or until ctx ends.
func lingerFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// waitStart sleeps until --start-at, if given, and returns the actual
// start; a start too late gives an error wrapping shard.ErrLate.
func waitStart(ctx context.Context, o *options) (time.Time, error) {
	if o.dist.startAt.IsZero() {
		return time.Now(), nil
	}
	return shard.Wait(ctx, o.dist.startAt, o.dist.maxStartDelay)
}

// describe fills in what the recorder cannot know: the options, the
// run, the shard, the host and the planned start.
func describe(doc *metrics.Result, o *options) {
	doc.Config = map[string]any{"args": o.args, "target": o.target}
	if o.ext.runID != "" {
		// The X-Smtp-Source-Run of every message.
		doc.Config["run_id"] = o.ext.runID
	}
	doc.RunID = o.ext.runID
	if h, err := shard.ConfigHash(o.args); err == nil {
		doc.ConfigHash = h
	}
	doc.Shard = o.dist.spec.Info()
	if h, err := os.Hostname(); err == nil {
		// The machine, which tells the shards of a merge apart.
		doc.Host = &metrics.Host{Hostname: h}
	}
	if !o.dist.startAt.IsZero() {
		doc.Time.PlannedStartNS = o.dist.startAt.UnixNano()
	}
}

// checkOut makes sure before the run that the --out file can be
// written, so that a run is not spent for a result that cannot be kept.
// It reports whether it created the file.
func checkOut(path string) (created bool, err error) {
	if path == "" || path == "-" {
		return false, nil
	}
	f, created, err := cli.OpenOutput(path)
	if err != nil {
		return false, err
	}
	return created, f.Close()
}

// removeIfEmpty removes the file at path if it holds nothing.
func removeIfEmpty(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() &&
		fi.Size() == 0 {
		os.Remove(path)
	}
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
	if doc == nil {
		printSummaryLine(w, r)
		return
	}
	// The line gives the table's elapsed time and rate, which are the
	// result's, not the load's own clock a moment apart.
	r.Elapsed = time.Duration(doc.ElapsedNS)
	printSummaryLine(w, r)
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

	sessions, err := o.dist.spec.Sessions(o.sessions, false)
	if err != nil {
		return load.Config{}, nil, err
	}
	dial, sk, err := newDialer(o, sessions, log)
	if err != nil {
		return load.Config{}, nil, err
	}

	seed := o.seed
	switch {
	case o.seedSet:
	case o.dist.spec.Sharded():
		// Every shard draws the same pause for message g.
		seed = shard.Seed(o.ext.runID)
	default:
		seed = uint64(os.Getpid())
	}
	cfg := load.Config{
		Dial:            dial,
		Gen:             gen,
		Messages:        o.messages,
		Sessions:        sessions,
		Shard:           o.dist.spec,
		Recipients:      o.recipients,
		Hostname:        hostname,
		LMTP:            o.lmtp,
		NoHelo:          o.oldMode,
		KeepOpen:        o.keepOpen,
		AllowReject:     o.allowReject,
		ConnectAttempts: o.connects,
		ConnectLimit:    o.connectLimit,
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
	if o.fileSet {
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
