package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// report is everything the Markdown report shows.
type report struct {
	cfg        *config
	machine    machine
	start, end time.Time
	loadEnd    string
	results    []result
}

// verdict is a scenario's summary: the two tools' stats and the targets.
type verdict struct {
	ours, theirs stats
	failed       bool     // more than one run failed, or a tool has none
	targets      []string // "msg/s ≥ 1.0x: met (1.10x)"
}

// judge sums up a scenario's result.
func (rep *report) judge(res result) verdict {
	k, n := res.sc.kind, rep.cfg.messages
	names := toolNames(res.sc.kind)
	v := verdict{
		ours:   summarize(res.runs, names[0], k, n),
		theirs: summarize(res.runs, names[1], k, n),
	}
	v.failed = v.ours.failed+v.theirs.failed > 1 ||
		v.ours.counted == 0 || v.theirs.counted == 0
	for _, t := range res.sc.targets {
		value, met := t.check(v.ours, v.theirs)
		word := "**missed**"
		if met {
			word = "met"
		}
		v.targets = append(v.targets,
			fmt.Sprintf("%s: %s (%s)", t.label, word, value))
	}
	return v
}

// toolNames returns the names of the measured tools, ours first.
func toolNames(k kind) [2]string {
	if k == sinks {
		return [2]string{"go-smtp-sink", "smtp-sink"}
	}
	return [2]string{"go-smtp-source", "smtp-source"}
}

// failed returns how many scenarios failed.
func (rep *report) failed() int {
	n := 0
	for _, res := range rep.results {
		if res.skip == "" && rep.judge(res).failed {
			n++
		}
	}
	return n
}

// write prints the report on stdout and, with -o, to a file.
func (rep *report) write() error {
	var buf bytes.Buffer
	rep.render(&buf)
	os.Stdout.Write(buf.Bytes())
	if rep.cfg.out == "" {
		return nil
	}
	if err := os.WriteFile(rep.cfg.out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// render writes the whole report.
func (rep *report) render(w io.Writer) {
	rep.header(w)
	rep.summary(w)
	for _, res := range rep.results {
		rep.section(w, res)
	}
}

// header writes the title, the machine and the method.
func (rep *report) header(w io.Writer) {
	m, cfg := rep.machine, rep.cfg
	fmt.Fprintf(w, "# Benchmark: ours vs Postfix's smtp-source and "+
		"smtp-sink\n\n")
	fmt.Fprintf(w, "- Date: %s, took %s\n",
		rep.start.Format("2006-01-02 15:04 MST"),
		rep.end.Sub(rep.start).Round(time.Second))
	fmt.Fprintf(w, "- Machine: %s, %s, Linux %s\n", m.coresText(),
		m.cpuModel, m.kernel)
	fmt.Fprintf(w, "- Commit: %s, built with %s\n", m.commit,
		m.goVersion)
	fmt.Fprintf(w, "- Postfix: %s (%s, %s)\n", m.postfix,
		cfg.postfixSource, cfg.postfixSink)
	fmt.Fprintf(w, "- Load average (1, 5, 15 min): %s at start, %s at end\n",
		m.loadStart, rep.loadEnd)
	args := strings.Join(cfg.setFlags, " ")
	fmt.Fprintf(w, "- Command: `bench/compare.sh%s`\n", prefixSpace(args))
	fmt.Fprintf(w, "- Method: %d messages per run over loopback, each run "+
		"into a fresh sink on a new port; per scenario one warm-up run "+
		"of each tool, then %d runs of each, alternating. Medians over "+
		"the counted runs. A run counts only if the client exits 0 "+
		"without printing errors and the sink counted all %d messages.\n\n",
		cfg.messages, cfg.runs, cfg.expect)
}

// prefixSpace returns s with a leading space, or "" for "".
func prefixSpace(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// summary writes one line per scenario: the ratios and the targets.
func (rep *report) summary(w io.Writer) {
	fmt.Fprintf(w, "## Summary\n\n")
	fmt.Fprintf(w, "Ratios are ours/theirs of the medians: msg/s above "+
		"1 is faster, CPU and RSS below 1 is leaner.\n\n")
	fmt.Fprintf(w, "| scenario | msg/s | CPU | RSS | targets |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---|\n")
	for _, res := range rep.results {
		if res.skip != "" {
			fmt.Fprintf(w, "| %s | | | | skipped: %s |\n", res.sc.name,
				res.skip)
			continue
		}
		v := rep.judge(res)
		targets := strings.Join(v.targets, "; ")
		if v.failed {
			targets = "**FAILED** (runs lost); " + targets
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", res.sc.name,
			fmtRatio(ratio(v.ours.rate, v.theirs.rate)),
			fmtRatio(ratio(v.ours.cpu, v.theirs.cpu)),
			fmtRatio(ratio(v.ours.rss, v.theirs.rss)), targets)
	}
	fmt.Fprintln(w)
}

// section writes a scenario's commands, table, targets and runs.
func (rep *report) section(w io.Writer, res result) {
	sc := res.sc
	fmt.Fprintf(w, "## %s: %s\n\n", sc.name, sc.title)
	if res.skip != "" {
		fmt.Fprintf(w, "Skipped: %s.\n\n", res.skip)
		return
	}
	names := toolNames(sc.kind)
	for i, c := range res.commands {
		fmt.Fprintf(w, "- %s: %s\n", names[i], c)
	}
	measured := "the client"
	if sc.kind == sinks {
		measured = "the sink (msg/s over the client's wall time)"
	}
	fmt.Fprintf(w, "- Measured: %s\n\n", measured)

	v := rep.judge(res)
	if v.failed {
		fmt.Fprintf(w, "**FAILED**: more than one run failed or a tool "+
			"has no run that counts.\n\n")
	}
	rep.table(w, names, v)
	fmt.Fprintf(w, "Targets: %s.\n\n", strings.Join(v.targets, "; "))
	rep.runs(w, res)
}

// table writes a scenario's medians and ratios.
func (rep *report) table(w io.Writer, names [2]string, v verdict) {
	fmt.Fprintf(w, "| tool | msg/s | CPU s / 10k msgs | "+
		"peak RSS MiB (median / max) | runs counted |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|\n")
	for i, s := range []stats{v.ours, v.theirs} {
		if s.counted == 0 {
			fmt.Fprintf(w, "| %s | n/a | n/a | n/a | 0 of %d |\n",
				names[i], rep.cfg.runs)
			continue
		}
		fmt.Fprintf(w, "| %s | %.0f | %.3f | %.1f / %.1f | %d of %d |\n",
			names[i], s.rate, s.cpu, s.rss, s.maxRSS, s.counted,
			rep.cfg.runs)
	}
	fmt.Fprintf(w, "| ours/theirs | %s | %s | %s | |\n\n",
		fmtRatio(ratio(v.ours.rate, v.theirs.rate)),
		fmtRatio(ratio(v.ours.cpu, v.theirs.cpu)),
		fmtRatio(ratio(v.ours.rss, v.theirs.rss)))
}

// runs writes every run's raw numbers, in the order they ran.
func (rep *report) runs(w io.Writer, res result) {
	n := rep.cfg.messages
	other := "sink"
	if res.sc.kind == sinks {
		other = "client"
	}
	fmt.Fprintf(w, "Runs, in order (CPU and RSS of the measured side; "+
		"CPU and minor page faults of the %s):\n\n", other)
	fmt.Fprintf(w, "| run | tool | wall s | msg/s | user s | sys s | "+
		"peak RSS MiB | %s CPU s | %s faults | sink mesg | note |\n",
		other, other)
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for i, r := range res.runs {
		label := fmt.Sprint(i / 2)
		note := ""
		if r.warmup {
			label, note = "warm-up", "not counted"
		}
		if r.err != nil {
			note = "**failed**: " + oneLine(r.err.Error())
		}
		u, o := r.measured(res.sc.kind), r.other(res.sc.kind)
		fmt.Fprintf(w, "| %s | %s | %.3f | %.0f | %.3f | %.3f | %.1f "+
			"| %.3f | %d | %d | %s |\n", label, r.tool,
			r.wall.Seconds(), r.rate(n), u.user.Seconds(),
			u.sys.Seconds(), mib(u.rssKiB), o.cpu().Seconds(),
			o.minflt, r.mesg, note)
	}
	fmt.Fprintln(w)
}

// oneLine makes text safe for a Markdown table cell.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
