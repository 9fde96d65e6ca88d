package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// bench runs scenarios.
type bench struct {
	cfg  *config
	dir  string       // for time's output and the sinks' counters
	used map[int]bool // ports handed out
	seq  int          // for temporary file names
	help []byte       // go-smtp-source --help, once read
}

// run is one client run into a fresh sink.
type run struct {
	tool   string
	warmup bool

	wall   time.Duration // the client's, start to exit
	client usage
	sink   usage
	mesg   int   // messages the sink counted
	err    error // why the run does not count; nil if it does
}

// result is a scenario's outcome.
type result struct {
	sc       scenario
	skip     string    // why it did not run
	commands [2]string // ours, theirs
	runs     []run
}

// scenario runs one scenario: a warm-up run of each side, then the
// counted runs, alternating ours and theirs.
func (b *bench) scenario(ctx context.Context, sc scenario) (result, error) {
	res := result{sc: sc}
	ours, theirs, skip := b.setups(sc)
	if skip != "" {
		res.skip = skip
		b.progress("%s: skipped: %s", sc.name, skip)
		return res, nil
	}
	res.commands = [2]string{b.command(ours), b.command(theirs)}

	for i := 0; i <= b.cfg.runs; i++ {
		for _, s := range []setup{ours, theirs} {
			r := b.once(ctx, s)
			if err := ctx.Err(); err != nil {
				return res, err
			}
			r.warmup = i == 0
			res.runs = append(res.runs, r)
			b.progressRun(sc, i, r)
		}
	}
	return res, nil
}

// once starts a sink, runs the client into it, stops the sink and checks
// the count.
func (b *bench) once(ctx context.Context, s setup) run {
	r := run{tool: s.tool}
	sk, err := b.startSink(ctx, s.sink)
	if err != nil {
		r.err = err
		return r
	}
	clientErr := b.client(ctx, s.client, sk.addr, &r)
	sinkUse, mesg, sinkErr := sk.stop()
	r.sink, r.mesg = sinkUse, mesg

	switch {
	case clientErr != nil:
		r.err = clientErr
	case sinkErr != nil:
		r.err = sinkErr
	case mesg != b.cfg.expect:
		r.err = fmt.Errorf("sink counted %d messages, want %d", mesg,
			b.cfg.expect)
	}
	return r
}

// client runs the client into addr and records its wall time and usage
// in r. It fails when the client exits non-zero or writes to stderr: both
// tools are silent when all goes well.
func (b *bench) client(ctx context.Context, argv []string, addr string,
	r *run) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	argv = append(argv[:len(argv):len(argv)],
		"-m", strconv.Itoa(b.cfg.messages), addr)
	out := b.tempName("client-time")
	cmd := timedCmd(ctx, b.cfg.timePath, out, argv)
	stderr := &headWriter{max: 4096}
	cmd.Stdout = &bytes.Buffer{}
	cmd.Stderr = stderr

	start := time.Now()
	err := cmd.Run()
	r.wall = time.Since(start)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("client still running after %v", b.cfg.timeout)
	}
	if err != nil {
		return fmt.Errorf("client: %w: %s", err, stderr.firstLine())
	}
	if len(stderr.buf) > 0 {
		return fmt.Errorf("client reported: %s", stderr.firstLine())
	}
	r.client, err = usageOf(cmd, out)
	return err
}

// tempName returns a new file name in the temporary directory.
func (b *bench) tempName(what string) string {
	b.seq++
	return filepath.Join(b.dir, fmt.Sprintf("%s-%d", what, b.seq))
}

// progressRun reports a finished run on stderr.
func (b *bench) progressRun(sc scenario, i int, r run) {
	n := fmt.Sprintf("run %d/%d", i, b.cfg.runs)
	if r.warmup {
		n = "warm-up"
	}
	if r.err != nil {
		b.progress("%s %s %s: FAILED: %v", sc.name, n, r.tool, r.err)
		return
	}
	u := r.measured(sc.kind)
	b.progress("%s %s %s: %.0f msg/s, %.3f CPU s/10k, %.1f MiB",
		sc.name, n, r.tool, r.rate(b.cfg.messages),
		cpuPer10k(u, b.cfg.messages), mib(u.rssKiB))
}

// progress prints a line on stderr.
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", args...)
}

// measured returns the usage of the side a scenario of kind k measures.
func (r run) measured(k kind) usage {
	if k == sinks {
		return r.sink
	}
	return r.client
}

// other returns the usage of the side not measured.
func (r run) other(k kind) usage {
	if k == sinks {
		return r.client
	}
	return r.sink
}

// rate returns messages per second over the client's wall time.
func (r run) rate(messages int) float64 {
	return float64(messages) / r.wall.Seconds()
}

// cpuPer10k returns CPU seconds per 10,000 messages.
func cpuPer10k(u usage, messages int) float64 {
	return u.cpu().Seconds() * 10000 / float64(messages)
}

// mib converts KiB to MiB.
func mib(kib int64) float64 { return float64(kib) / 1024 }
