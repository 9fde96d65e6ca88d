package main

import (
	"fmt"
	"slices"
)

// stats sums up one tool's runs in a scenario.
type stats struct {
	counted, failed int // runs that count and runs that failed (warm-ups too)

	// Medians over the counted runs.
	rate   float64 // messages per second
	cpu    float64 // CPU seconds per 10,000 messages
	rss    float64 // peak RSS, MiB
	maxRSS float64 // largest peak RSS of a counted run, MiB
}

// summarize computes the stats of one tool's runs.
func summarize(runs []run, tool string, k kind, messages int) stats {
	var s stats
	var rates, cpus, rsss []float64
	for _, r := range runs {
		switch {
		case r.tool != tool:
			continue
		case r.err != nil:
			s.failed++
			continue
		case r.warmup:
			continue
		}
		u := r.measured(k)
		s.counted++
		rates = append(rates, r.rate(messages))
		cpus = append(cpus, cpuPer10k(u, messages))
		rsss = append(rsss, mib(u.rssKiB))
	}
	s.rate, s.cpu, s.rss = median(rates), median(cpus), median(rsss)
	if len(rsss) > 0 {
		s.maxRSS = slices.Max(rsss)
	}
	return s
}

// median returns the median of xs, or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio returns a/b, or 0 when either is unknown.
func ratio(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}

// target is one of the targets, checked on the two tools'
// stats, ours first.
type target struct {
	label string
	check func(ours, theirs stats) (value string, met bool)
}

// rateAtLeast wants ours/theirs messages per second of at least x.
func rateAtLeast(x float64) target {
	return target{fmt.Sprintf("msg/s ≥ %.1fx", x),
		func(o, t stats) (string, bool) {
			r := ratio(o.rate, t.rate)
			return fmtRatio(r), r != 0 && r >= x
		}}
}

// cpuAtMost wants ours/theirs CPU per message of at most x.
func cpuAtMost(x float64) target {
	return target{fmt.Sprintf("CPU ≤ %.1fx", x),
		func(o, t stats) (string, bool) {
			r := ratio(o.cpu, t.cpu)
			return fmtRatio(r), r != 0 && r <= x
		}}
}

// rssAtMost wants our largest peak RSS at most mb MiB.
func rssAtMost(mb float64) target {
	return target{fmt.Sprintf("our peak RSS ≤ %.0f MiB", mb),
		func(o, t stats) (string, bool) {
			return fmt.Sprintf("%.1f MiB", o.maxRSS),
				o.counted > 0 && o.maxRSS <= mb
		}}
}

// allRunsCount wants every run of both tools to complete without errors
// and with every message counted.
func allRunsCount() target {
	return target{"every run complete, no errors",
		func(o, t stats) (string, bool) {
			failed := o.failed + t.failed
			return fmt.Sprintf("%d failed", failed),
				failed == 0 && o.counted > 0 && t.counted > 0
		}}
}

// fmtRatio formats a ratio as "1.23x", or "n/a".
func fmtRatio(r float64) string {
	if r == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}
