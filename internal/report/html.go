package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// HTML writes the report of r as one self-contained HTML page that
// opens offline: no script, no external reference, the charts drawn as
// inline SVG. It shows the header block and warnings, the phase table,
// throughput per second, transaction latency (p50, p99, max) per
// second, each phase's mean latency per second, latency by percentile
// from the run's HdrHistograms, and the reply, enhanced code and error
// counts. r must come from metrics.Decode, metrics.Merge or
// Recorder.Result.
func HTML(w io.Writer, r *metrics.Result) error {
	return writeHTML(w, Summarize(r))
}

func writeHTML(w io.Writer, s *Summary) error {
	if err := pageTemplate.Execute(w, newPage(s)); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// page is what the template shows.
type page struct {
	Title     string
	Warnings  []string
	Header    []kv
	PhaseHead []string
	Phases    []phaseRow
	Charts    []template.HTML
	Counts    []countTable
	Sources   []sourceRow
	Tool      string
}

type phaseRow struct {
	Label string
	Sub   bool // a sub-row of the row above
	Cells []string
}

type countTable struct {
	Title string
	Key   string
	Rows  []kv
}

type sourceRow struct {
	Shard, Host, Version, Start, Offset, Elapsed, Accepted, Complete string
}

func newPage(s *Summary) *page {
	p := &page{
		Title:     "go-smtp-source report",
		Warnings:  s.Warnings,
		Header:    headerRows(s),
		PhaseHead: phaseHeader,
		Charts: []template.HTML{
			throughputChart(s).svg(),
			transactionChart(s).svg(),
			phaseChart(s).svg(),
			percentileChart(s).svg(),
		},
		Counts: []countTable{
			countsOf("Replies", "phase code", s.Replies),
			countsOf("Enhanced status codes", "code", s.Enhanced),
			countsOf("Transport errors", "phase kind", s.Errors),
		},
		Sources: sourceRows(s),
		Tool:    strings.TrimSpace(s.Tool.Version + " " + s.Tool.Go),
	}
	if s.Delivery != nil {
		p.Charts = append(p.Charts, deliveryChart(s).svg())
	}
	if s.Target != "" {
		p.Title += ": " + s.Target
	}
	for _, row := range phaseRows(s) {
		label := strings.TrimLeft(row[0], " ")
		p.Phases = append(p.Phases, phaseRow{label, label != row[0],
			row[1:]})
	}
	return p
}

func countsOf(title, key string, m map[string]int64) countTable {
	t := countTable{Title: title, Key: key}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		t.Rows = append(t.Rows, kv{k, fmt.Sprint(m[k])})
	}
	return t
}

func sourceRows(s *Summary) []sourceRow {
	var rows []sourceRow
	for _, src := range s.Sources {
		r := sourceRow{
			Shard:    "-",
			Host:     "-",
			Version:  src.Version,
			Start:    clock(src.StartNS),
			Offset:   duration(src.StartNS - s.StartNS),
			Elapsed:  duration(src.EndNS - src.StartNS),
			Accepted: fmt.Sprint(src.Accepted),
			Complete: "yes",
		}
		if src.Shard != nil {
			r.Shard = src.Shard.String()
		}
		if src.Host != nil && src.Host.Hostname != "" {
			r.Host = src.Host.Hostname
		}
		if !src.Complete {
			r.Complete = "no"
		}
		rows = append(rows, r)
	}
	return rows
}

// phaseColors gives each phase the same colour in every chart.
var phaseColors = map[metrics.Phase]string{
	metrics.Connect:                 "#1f77b4",
	metrics.Banner:                  "#ff7f0e",
	metrics.Helo:                    "#2ca02c",
	metrics.StartTLS:                "#d62728",
	metrics.Auth:                    "#9467bd",
	metrics.Mail:                    "#8c564b",
	metrics.Rcpt:                    "#e377c2",
	metrics.Data:                    "#7f7f7f",
	metrics.EOD:                     "#bcbd22",
	metrics.Rset:                    "#17becf",
	metrics.Quit:                    "#393b79",
	metrics.Transaction:             "#000000",
	metrics.TransactionFromIntended: "#ad494a",
	metrics.Session:                 "#637939",
}

// Colours of the throughput chart; the test looks for colorAccepted.
const (
	colorAccepted = "#2ca02c"
	colorFailed   = "#ff7f0e"
	colorErrors   = "#d62728"
)

// secondsAxis returns the x axis of the per-second charts: seconds
// since the start of the run.
func secondsAxis(s *Summary) axis {
	hi := 1.0
	if n := len(s.Series); n > 0 {
		hi = math.Max(hi, offset(s, s.Series[n-1]))
	}
	a := linearAxis(0, hi, func(v float64) string {
		return shortNumber(v) + "s"
	})
	a.label = "seconds since the start"
	return a
}

// offset returns the second's position in seconds since the start.
func offset(s *Summary, sec Second) float64 {
	return float64(sec.T) - math.Floor(float64(s.StartNS)/1e9)
}

func throughputChart(s *Summary) *chart {
	acc := plotLine{name: "accepted", color: colorAccepted}
	fail := plotLine{name: "tempfail + permfail", color: colorFailed}
	errs := plotLine{name: "error + unknown", color: colorErrors}
	for i, sec := range s.Series {
		x, m := offset(s, sec), sec.Messages
		if gap(s, i) {
			acc.pts = append(acc.pts, xy{x, math.NaN()})
			fail.pts = append(fail.pts, xy{x, math.NaN()})
			errs.pts = append(errs.pts, xy{x, math.NaN()})
		}
		acc.pts = append(acc.pts, xy{x, float64(m.Accepted)})
		fail.pts = append(fail.pts, xy{x, float64(m.TempFail + m.PermFail)})
		errs.pts = append(errs.pts, xy{x, float64(m.Error + m.Unknown)})
	}
	c := &chart{title: "Throughput (messages per second)",
		x: secondsAxis(s), lines: []plotLine{acc}}
	if s.Messages.TempFail+s.Messages.PermFail > 0 {
		c.lines = append(c.lines, fail)
	}
	if s.Messages.Error+s.Messages.Unknown > 0 {
		c.lines = append(c.lines, errs)
	}
	_, hi := yRange(c.lines, false)
	c.y = linearAxis(0, hi, shortNumber)
	c.y.label = "messages/s"
	return c
}

func transactionChart(s *Summary) *chart {
	tx := metrics.Transaction.String()
	intended := metrics.TransactionFromIntended.String()
	lines := []plotLine{
		secondLine(s, "p50", "#1f77b4", "", tx, p50),
		secondLine(s, "p99", "#d62728", "", tx, p99),
		secondLine(s, "max", "#7f7f7f", "4 3", tx, maxOf),
	}
	if s.Phases[intended].Count > 0 {
		lines = append(lines, secondLine(s, "p99 from intended start",
			"#9467bd", "8 3", intended, p99))
	}
	return latencyChart("Transaction latency per second (MAIL to the "+
		"final reply)", secondsAxis(s), lines)
}

func phaseChart(s *Summary) *chart {
	var lines []plotLine
	for _, tp := range tablePhases {
		p := tp.p
		if p >= metrics.Transaction || s.Phases[p.String()].Count == 0 {
			continue
		}
		lines = append(lines, secondLine(s, p.String(), phaseColors[p],
			"", p.String(), meanOf))
	}
	return latencyChart("Mean latency per phase, per second",
		secondsAxis(s), lines)
}

// gap reports whether seconds are missing before the i-th of the
// series, when no run was going (shards whose windows are apart): the
// lines break there rather than bridge it.
func gap(s *Summary, i int) bool {
	return i > 0 && s.Series[i].T-s.Series[i-1].T > 1
}

func p50(sp SecondPhase) int64    { return sp.P50NS }
func p99(sp SecondPhase) int64    { return sp.P99NS }
func maxOf(sp SecondPhase) int64  { return sp.MaxNS }
func meanOf(sp SecondPhase) int64 { return sp.MeanNS }

// secondLine plots one statistic of a phase over the seconds; the
// seconds without that phase are gaps.
func secondLine(s *Summary, name, color, dash, phase string,
	stat func(SecondPhase) int64) plotLine {
	l := plotLine{name: name, color: color, dash: dash}
	for i, sec := range s.Series {
		if gap(s, i) {
			l.pts = append(l.pts, xy{offset(s, sec), math.NaN()})
		}
		y := math.NaN()
		if sp, ok := sec.Phases[phase]; ok && sp.Count > 0 {
			y = float64(stat(sp))
		}
		l.pts = append(l.pts, xy{offset(s, sec), y})
	}
	return l
}

// latencyChart is a chart of latencies on a logarithmic axis.
func latencyChart(title string, x axis, lines []plotLine) *chart {
	lo, hi := yRange(lines, true)
	y := logAxis(lo, hi, shortDuration)
	y.label = "latency"
	return &chart{title: title, x: x, y: y, lines: lines}
}

// percentileChart plots each phase's latency against the percentile,
// on an axis where each step right is a nine more (90%, 99%, 99.9%...),
// up to the nines the largest count can tell apart.
func percentileChart(s *Summary) *chart {
	var n int64
	for _, st := range s.Phases {
		n = max(n, st.Count)
	}
	nines := min(max(math.Ceil(math.Log10(float64(max(n, 1)))), 1), 6)
	x := axis{min: 0, max: nines, label: "percentile"}
	for k := 0.0; k <= nines; k++ {
		x.ticks = append(x.ticks, tick{k, ninesLabel(k)})
	}

	var lines []plotLine
	for _, tp := range tablePhases {
		l := s.res.Phase(tp.p)
		if l.Count == 0 {
			continue
		}
		pl := plotLine{name: tp.p.String(), color: phaseColors[tp.p]}
		const steps = 240
		for i := range steps + 1 {
			k := nines * float64(i) / steps
			q := 100 * (1 - math.Pow(10, -k))
			pl.pts = append(pl.pts, xy{k, float64(l.ValueAt(q))})
		}
		lines = append(lines, pl)
	}
	return latencyChart("Latency by percentile (HdrHistogram)", x, lines)
}

// ninesLabel names the percentile k nines up: 0%, 90%, 99%, 99.9%...
func ninesLabel(k float64) string {
	q := 100 * (1 - math.Pow(10, -k))
	return fmt.Sprintf("%.*f%%", max(int(k)-2, 0), q)
}

// yRange returns the smallest and largest values of the lines, only
// the positive ones if positive is set.
func yRange(lines []plotLine, positive bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, p := range l.pts {
			if math.IsNaN(p.y) || (positive && p.y <= 0) {
				continue
			}
			lo, hi = math.Min(lo, p.y), math.Max(hi, p.y)
		}
	}
	if math.IsInf(lo, 1) {
		return 1, 1
	}
	return lo, hi
}
