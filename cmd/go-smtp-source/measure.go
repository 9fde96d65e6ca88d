package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/term"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// measurement is what a run measures besides its summary counts: the
// recorder, and whoever reads it while the run goes on.
type measurement struct {
	rec      *metrics.Recorder
	stopTick func()
	progress chan struct{} // closed to stop the progress line
	done     chan struct{} // closed when the progress line is gone
}

// startMeasuring sets up the recorder of a run that started at start,
// its metrics on ep (when not nil) and the live progress line, as the
// options ask.
func startMeasuring(ctx context.Context, o *options, start time.Time,
	ep *endpoint, stderr io.Writer) (*measurement, error) {

	m := &measurement{rec: metrics.New(start)}
	m.stopTick = m.rec.Start(ctx)

	if ep != nil {
		reg := prometheus.NewRegistry()
		if err := m.rec.Register(reg, promLabels(o)); err != nil {
			m.stopTick()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		ep.setMetrics(promhttp.HandlerFor(reg,
			promhttp.HandlerOpts{EnableOpenMetrics: true}))
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) &&
		o.counter == 0 && o.verbose == 0 {
		m.progress = make(chan struct{})
		m.done = make(chan struct{})
		go m.showProgress(stderr, o)
	}
	return m, nil
}

// promLabels label every series with the run id and the shard, when
// given, so that a fleet's series can be told apart and summed.
func promLabels(o *options) prometheus.Labels {
	l := prometheus.Labels{}
	if o.ext.runID != "" {
		l["run_id"] = o.ext.runID
	}
	if o.dist.spec.Sharded() {
		l["shard"] = strconv.Itoa(o.dist.spec.Index)
	}
	return l
}

// stop ends the measurement and returns the run's result.
func (m *measurement) stop() *metrics.Result {
	if m.progress != nil {
		close(m.progress)
		<-m.done
	}
	m.stopTick()
	return m.rec.Result()
}

// showProgress redraws one status line on a terminal a few times a
// second: done of total (or elapsed of duration), rate, errors, ETA.
func (m *measurement) showProgress(w io.Writer, o *options) {
	defer close(m.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-m.progress:
			fmt.Fprint(w, "\r\x1b[K")
			return
		case <-t.C:
			line := progressLine(m.rec.Snapshot(), o, time.Since(start))
			fmt.Fprint(w, "\r\x1b[K"+line)
		}
	}
}

// progressLine words a progress snapshot.
func progressLine(p metrics.Progress, o *options,
	elapsed time.Duration) string {

	var b strings.Builder
	elapsed = elapsed.Truncate(time.Second)
	switch {
	case o.duration > 0:
		fmt.Fprintf(&b, "%v/%v", elapsed, o.duration)
	default:
		fmt.Fprintf(&b, "%d/%d", p.Attempted, o.messages)
	}
	fmt.Fprintf(&b, "  %.0f msg/s  accepted %d  failed %d  errors %d",
		p.Rate, p.Accepted, p.Failed, p.Errors)
	if p.Late+p.Dropped > 0 {
		fmt.Fprintf(&b, "  late %d  dropped %d", p.Late, p.Dropped)
	}
	if eta, ok := remaining(p, o, elapsed); ok {
		fmt.Fprintf(&b, "  ETA %v", eta)
	}
	return b.String()
}

// remaining estimates the time left from the current rate.
func remaining(p metrics.Progress, o *options,
	elapsed time.Duration) (time.Duration, bool) {

	if o.duration > 0 {
		return max(o.duration-elapsed, 0), true
	}
	if p.Rate <= 0 {
		return 0, false
	}
	left := float64(o.messages - p.Attempted)
	return time.Duration(left / p.Rate * float64(time.Second)).
		Round(time.Second), true
}

// writeResult writes the result document to --out: a file, or "-"
// for stdout, as frames when the run is named (see options.framed).
func writeResult(o *options, res *metrics.Result, stdout io.Writer) error {
	switch {
	case o.framed():
		var b bytes.Buffer
		if err := res.Encode(&b); err != nil {
			return fmt.Errorf("result: %w", err)
		}
		if err := frame.Write(stdout, o.frameKey(), b.Bytes()); err != nil {
			return fmt.Errorf("result: %w", err)
		}
		return nil
	case o.out == "-":
		return res.Encode(stdout)
	}
	return res.WriteFile(o.out)
}
