package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// Format names the JSON summary's format and version. Fields may be
// added without a new version; readers ignore those they do not know.
const Format = "go-smtp-source-report/1"

// Summary is what every report shows of a result: the totals, the
// latency statistics of every phase, the reply and error counts, the
// per-second series without histograms, and warnings about the run
// (stopped early, partial merge, shard windows apart). It is the JSON
// format's document.
type Summary struct {
	Format string       `json:"format"`
	Tool   metrics.Tool `json:"tool"`
	Target string       `json:"target,omitempty"`
	RunID  string       `json:"run_id,omitempty"`

	Start    string `json:"start"` // RFC 3339, UTC
	StartNS  int64  `json:"start_ns"`
	End      string `json:"end"`
	EndNS    int64  `json:"end_ns"`
	Complete bool   `json:"complete"` // false when stopped early

	ElapsedNS int64   `json:"elapsed_ns"`
	RatePerS  float64 `json:"rate_per_s"` // accepted messages a second

	// SuccessRatio is accepted over attempted messages, 0 to 1 (0 when
	// none was attempted).
	SuccessRatio float64 `json:"success_ratio"`

	Messages   metrics.Messages   `json:"messages"`
	Recipients metrics.Recipients `json:"recipients"`
	Sessions   metrics.Sessions   `json:"sessions"`
	Bytes      metrics.Bytes      `json:"bytes"`
	Late       int64              `json:"late"`
	Dropped    int64              `json:"dropped"`

	// Phases has an entry for every phase, zero when it was not seen.
	Phases map[string]PhaseStats `json:"phases"`

	Replies  map[string]int64 `json:"replies"`  // "PHASE CODE"
	Enhanced map[string]int64 `json:"enhanced"` // "5.1.1"
	Errors   map[string]int64 `json:"errors"`   // "PHASE KIND"

	// TLS counts TLS handshakes; nil when there were none.
	TLS *metrics.TLS `json:"tls,omitempty"`

	// Shard and Sources describe a distributed run: the shard of a
	// single result, or the shards and runs a merged one holds.
	// StartSkewNS is the latest actual start minus the earliest.
	Shard       *metrics.ShardInfo `json:"shard,omitempty"`
	Partial     bool               `json:"partial,omitempty"`
	Sources     []metrics.Source   `json:"sources,omitempty"`
	StartSkewNS int64              `json:"start_skew_ns,omitempty"`

	Warnings []string       `json:"warnings,omitempty"`
	Config   map[string]any `json:"config,omitempty"`
	Series   []Second       `json:"series"`

	// Delivery pairs the run with a receiver's result (go-smtp-sink
	// --out); nil without one.
	Delivery *DeliveryStats `json:"delivery,omitempty"`

	// The result the summary was made from, for the percentile plot.
	res *metrics.Result
}

// PhaseStats are one phase's latency statistics over the run.
type PhaseStats struct {
	Count  int64 `json:"count"`
	MinNS  int64 `json:"min_ns"`
	MeanNS int64 `json:"mean_ns"`
	P50NS  int64 `json:"p50_ns"`
	P90NS  int64 `json:"p90_ns"`
	P99NS  int64 `json:"p99_ns"`
	P999NS int64 `json:"p999_ns"`
	MaxNS  int64 `json:"max_ns"`
}

// Second is one second of the series: T is seconds since the Unix
// epoch.
type Second struct {
	T        int64                  `json:"t"`
	Messages metrics.Messages       `json:"messages"`
	Late     int64                  `json:"late,omitempty"`
	Dropped  int64                  `json:"dropped,omitempty"`
	Phases   map[string]SecondPhase `json:"phases,omitempty"`
}

// SecondPhase is one phase's latencies during one second; only the
// transaction phases have percentiles.
type SecondPhase struct {
	Count  int64 `json:"count"`
	MinNS  int64 `json:"min_ns"`
	MeanNS int64 `json:"mean_ns"`
	P50NS  int64 `json:"p50_ns,omitempty"`
	P99NS  int64 `json:"p99_ns,omitempty"`
	MaxNS  int64 `json:"max_ns"`
}

// Summarize returns the summary of r, which must come from
// metrics.Decode, metrics.Merge or Recorder.Result (their derived
// fields are what it shows). r must not change while the summary is in
// use.
func Summarize(r *metrics.Result) *Summary {
	s := &Summary{
		Format:     Format,
		Tool:       r.Tool,
		Target:     target(r.Config),
		RunID:      r.RunID,
		Start:      stamp(r.Time.StartNS),
		StartNS:    r.Time.StartNS,
		End:        stamp(r.Time.EndNS),
		EndNS:      r.Time.EndNS,
		Complete:   r.Time.Complete,
		ElapsedNS:  r.ElapsedNS,
		RatePerS:   r.RatePerS,
		Messages:   r.Messages,
		Recipients: r.Recipients,
		Sessions:   r.Sessions,
		Bytes:      r.Bytes,
		Late:       r.Schedule.Late,
		Dropped:    r.Schedule.Dropped,
		Phases:     map[string]PhaseStats{},
		Replies:    orEmpty(r.Replies),
		Enhanced:   orEmpty(r.Enhanced),
		Errors:     orEmpty(r.Errors),
		TLS:        r.TLS,
		Shard:      r.Shard,
		Partial:    r.Shard != nil && r.Shard.Partial(),
		Sources:    r.Sources,
		Config:     r.Config,
		Series:     seconds(r.Series.Points),
		res:        r,
	}
	if m := r.Messages; m.Attempted > 0 {
		s.SuccessRatio = float64(m.Accepted) / float64(m.Attempted)
	}
	for p := range metrics.NumPhases {
		s.Phases[p.String()] = phaseStats(r.Phase(p))
	}
	s.StartSkewNS = startSkew(r.Sources)
	s.Warnings = warnings(r)
	return s
}

func phaseStats(l *metrics.Latency) PhaseStats {
	return PhaseStats{
		Count:  l.Count,
		MinNS:  l.MinNS,
		MeanNS: l.MeanNS,
		P50NS:  l.P50NS,
		P90NS:  l.P90NS,
		P99NS:  l.P99NS,
		P999NS: l.P999NS,
		MaxNS:  l.MaxNS,
	}
}

func seconds(points []*metrics.Point) []Second {
	out := make([]Second, 0, len(points))
	for _, pt := range points {
		sec := Second{
			T:        pt.T,
			Messages: pt.Messages,
			Late:     pt.Late,
			Dropped:  pt.Dropped,
		}
		for name, pp := range pt.Phases {
			if sec.Phases == nil {
				sec.Phases = map[string]SecondPhase{}
			}
			sec.Phases[name] = SecondPhase{
				Count:  pp.Count,
				MinNS:  pp.MinNS,
				MeanNS: pp.MeanNS,
				P50NS:  pp.P50NS,
				P99NS:  pp.P99NS,
				MaxNS:  pp.MaxNS,
			}
		}
		out = append(out, sec)
	}
	return out
}

// target returns the target named in the config, or "".
func target(config map[string]any) string {
	if t, ok := config["target"]; ok && t != nil {
		return fmt.Sprint(t)
	}
	return ""
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// startSkew returns the latest actual start of the runs minus the
// earliest, or 0 for a single run.
func startSkew(sources []metrics.Source) int64 {
	if len(sources) < 2 {
		return 0
	}
	lo, hi := sources[0].StartNS, sources[0].StartNS
	for _, src := range sources[1:] {
		lo, hi = min(lo, src.StartNS), max(hi, src.StartNS)
	}
	return hi - lo
}

// warnings lists what makes a result doubtful, loudest first.
func warnings(r *metrics.Result) []string {
	var w []string
	switch sh := r.Shard; {
	case sh == nil:
	case sh.Partial():
		w = append(w, fmt.Sprintf("partial merge: shards %v of %d, "+
			"missing %v", sh.Merged, sh.Count, missing(sh)))
	case sh.Merged == nil && sh.Count > 1:
		w = append(w, fmt.Sprintf("one shard: shard %d of %d, without "+
			"the run's other shards (merge them)", sh.Index, sh.Count))
	}
	if len(r.Sources) > 1 && !overlap(r.Sources) {
		w = append(w, "the runs' time windows do not overlap")
	}
	if !r.Time.Complete {
		w = append(w, "stopped early: the run is incomplete")
	}
	for _, h := range unsyncedHosts(r) {
		w = append(w, "clock not synchronized on "+h)
	}
	return w
}

// missing returns the shards a merged result lacks.
func missing(sh *metrics.ShardInfo) []int {
	var out []int
	for k := range sh.Count {
		if !slices.Contains(sh.Merged, k) {
			out = append(out, k)
		}
	}
	return out
}

// overlap reports whether some instant lies in every run's window.
func overlap(sources []metrics.Source) bool {
	start, end := sources[0].StartNS, sources[0].EndNS
	for _, src := range sources[1:] {
		start, end = max(start, src.StartNS), min(end, src.EndNS)
	}
	return start <= end
}

// unsyncedHosts names the hosts whose clocks were not synchronized.
func unsyncedHosts(r *metrics.Result) []string {
	seen := map[string]bool{}
	add := func(h *metrics.Host) {
		if h != nil && h.ClockUnsynchronized {
			seen[cmp.Or(h.Hostname, "a host")] = true
		}
	}
	add(r.Host)
	for _, src := range r.Sources {
		add(src.Host)
	}
	return slices.Sorted(maps.Keys(seen))
}
