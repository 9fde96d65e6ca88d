package metrics

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Format names the result document's format and version. A reader
// refuses any other; readers of this version ignore fields they do not
// know, so fields may be added without a new version.
const Format = "go-smtp-source-result/1"

// Encoding names how histograms are stored: HdrHistogram's V2
// compressed encoding, in base64.
const Encoding = "hdr-v2-compressed-base64"

// Result is the result document of a run, or of several merged. Fields
// marked derived are recomputed from the others by Encode, Decode,
// Merge and Recorder.Result; the rest are the data.
type Result struct {
	Format string `json:"format"`
	Tool   Tool   `json:"tool"`

	// Identity of a distributed run, set by the caller; Merge refuses
	// to mix results whose run ids or config hashes differ.
	RunID      string `json:"run_id,omitempty"`
	ConfigHash string `json:"config_hash,omitempty"`

	// Config holds the options as given (target, -m, -s, --rate...),
	// filled by the caller. A merge keeps the settings all inputs
	// share. Decode gives numbers as json.Number, to keep them exact.
	Config map[string]any `json:"config,omitempty"`

	Shard *ShardInfo `json:"shard,omitempty"`
	Host  *Host      `json:"host,omitempty"`
	Time  Times      `json:"time"`

	// Sources describes each run in a merged result, ordered by start;
	// it is empty for a single run, which the document itself describes.
	Sources []Source `json:"sources,omitempty"`

	ElapsedNS int64   `json:"elapsed_ns"` // derived: end - start
	RatePerS  float64 `json:"rate_per_s"` // derived: accepted / elapsed

	Messages   Messages   `json:"messages"`
	Recipients Recipients `json:"recipients"`
	Sessions   Sessions   `json:"sessions"`
	Bytes      Bytes      `json:"bytes"`
	Schedule   Schedule   `json:"schedule"`

	// Replies counts reply codes by phase, as "PHASE CODE" ("RCPT 450").
	Replies map[string]int64 `json:"replies"`

	// Enhanced counts enhanced status codes ("5.1.1").
	Enhanced map[string]int64 `json:"enhanced"`

	// Errors counts transport failures by phase and kind, as "PHASE
	// KIND" ("CONNECT refused").
	Errors map[string]int64 `json:"errors"`

	// TLS counts TLS handshakes; nil when there were none.
	TLS *TLS `json:"tls,omitempty"`

	Latency Latencies `json:"latency"`
	Series  Series    `json:"series"`

	// Delivery is a receiver's record of the run's messages; nil in a
	// sender's result.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// receiver says whether r is a receiver's (a sink's) result: a record
// of deliveries, with no messages sent.
func (r *Result) receiver() bool {
	return r.Delivery != nil && r.Messages.Attempted == 0
}

// Tool says which build wrote a result.
type Tool struct {
	Version string `json:"version,omitempty"`
	Go      string `json:"go,omitempty"`
}

// Host describes the machine a run ran on.
type Host struct {
	Hostname            string `json:"hostname,omitempty"`
	ClockUnsynchronized bool   `json:"clock_unsynchronized,omitempty"`
}

// Messages counts messages by outcome.
type Messages struct {
	Attempted int64 `json:"attempted"` // derived: the sum of the others
	Accepted  int64 `json:"accepted"`
	TempFail  int64 `json:"tempfail"`
	PermFail  int64 `json:"permfail"`
	Error     int64 `json:"error"`
	Unknown   int64 `json:"unknown"`
}

// Recipients counts recipients by the server's answer to RCPT.
type Recipients struct {
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
}

// Sessions counts sessions that started and that ended.
type Sessions struct {
	Opened int64 `json:"opened"`
	Done   int64 `json:"done"`
}

// Bytes counts bytes written to (Out) and read from (In) servers.
type Bytes struct {
	Out int64 `json:"out"`
	In  int64 `json:"in"`
}

// Schedule counts open-model sends that started late or were dropped.
type Schedule struct {
	Late    int64 `json:"late"`
	Dropped int64 `json:"dropped"`
}

// Params describe the histograms of a section; Merge requires them to
// be equal.
type Params struct {
	Unit     string `json:"unit"` // always "ns"
	Lowest   int64  `json:"lowest"`
	Highest  int64  `json:"highest"`
	SigFigs  int    `json:"sigfigs"`
	Encoding string `json:"encoding"`
}

// Latencies holds one distribution per phase, named as Phase.String
// names them; every phase is present.
type Latencies struct {
	Params
	Phases map[string]*Latency `json:"phases"`
}

// Latency is the distribution of one phase's latencies: exact count,
// sum, minimum and maximum, and the histogram the percentiles come
// from. Percentiles are clamped to the exact minimum and maximum.
type Latency struct {
	Count  int64  `json:"count"`
	SumNS  int64  `json:"sum_ns"`
	MinNS  int64  `json:"min_ns"`
	MeanNS int64  `json:"mean_ns"` // derived
	P50NS  int64  `json:"p50_ns"`  // derived
	P90NS  int64  `json:"p90_ns"`  // derived
	P99NS  int64  `json:"p99_ns"`  // derived
	P999NS int64  `json:"p999_ns"` // derived
	MaxNS  int64  `json:"max_ns"`
	HDR    string `json:"hdr,omitempty"`

	hist *hdr.PackedHistogram
}

// Series is the per-second time series.
type Series struct {
	IntervalNS int64    `json:"interval_ns"`
	HDR        Params   `json:"hdr"`
	Points     []*Point `json:"points"`
}

// Point is one second of the series, T seconds after the Unix epoch.
type Point struct {
	T        int64    `json:"t"`
	Messages Messages `json:"messages"`
	Late     int64    `json:"late,omitempty"`
	Dropped  int64    `json:"dropped,omitempty"`

	// Phases holds the phases seen in that second. Only transaction
	// and transaction_from_intended carry a histogram, and so
	// percentiles; the others have exact statistics.
	Phases map[string]*PointPhase `json:"phases,omitempty"`
}

// PointPhase is one phase's latencies during one second.
type PointPhase struct {
	Count  int64  `json:"count"`
	SumNS  int64  `json:"sum_ns"`
	MinNS  int64  `json:"min_ns"`
	MeanNS int64  `json:"mean_ns"`          // derived
	P50NS  int64  `json:"p50_ns,omitempty"` // derived
	P99NS  int64  `json:"p99_ns,omitempty"` // derived
	MaxNS  int64  `json:"max_ns"`
	HDR    string `json:"hdr,omitempty"`

	hist *hdr.PackedHistogram
}

// Source describes one run of a merged result.
type Source struct {
	Shard    *ShardInfo `json:"shard,omitempty"`
	Host     *Host      `json:"host,omitempty"`
	Version  string     `json:"version,omitempty"`
	StartNS  int64      `json:"start_ns"`
	EndNS    int64      `json:"end_ns"`
	Accepted int64      `json:"accepted"`
	Complete bool       `json:"complete"`
}

// Phase returns phase p's latencies; it is never nil.
func (r *Result) Phase(p Phase) *Latency {
	if l := r.Latency.Phases[p.String()]; l != nil {
		return l
	}
	return &Latency{}
}

// Elapsed returns the time between the start and the end of the run (of
// the union of the runs, for a merged result).
func (r *Result) Elapsed() time.Duration {
	return time.Duration(r.Time.EndNS - r.Time.StartNS)
}

// ValueAt returns the latency at percentile q (0 to 100) within the
// histogram's precision, clamped to the exact minimum and maximum.
func (l *Latency) ValueAt(q float64) time.Duration {
	return time.Duration(percentile(l.hist, q, l.MinNS, l.MaxNS))
}

// percentile returns the value at percentile q of h, clamped to the
// exact minimum lo and maximum hi. Values past the histogram's range
// were counted at its top, so a percentile there is only known to be at
// most the maximum.
func percentile(h *hdr.PackedHistogram, q float64, lo, hi int64) int64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	v := h.ValueAtPercentile(q)
	if v >= h.HighestTrackableValue() {
		v = hi
	}
	return min(max(v, lo), hi)
}

// distribution is what Latency and PointPhase share: exact statistics
// and a histogram, with its encoding cached.
type distribution interface {
	exact() stats
	setExact(stats)
	histogram() **hdr.PackedHistogram
	encoded() *string
}

func (l *Latency) exact() stats {
	return stats{l.Count, l.SumNS, l.MinNS, l.MaxNS}
}

func (l *Latency) setExact(s stats) {
	l.Count, l.SumNS, l.MinNS, l.MaxNS = s.n, s.sum, s.min, s.max
}

func (l *Latency) histogram() **hdr.PackedHistogram { return &l.hist }
func (l *Latency) encoded() *string                 { return &l.HDR }

func (p *PointPhase) exact() stats {
	return stats{p.Count, p.SumNS, p.MinNS, p.MaxNS}
}

func (p *PointPhase) setExact(s stats) {
	p.Count, p.SumNS, p.MinNS, p.MaxNS = s.n, s.sum, s.min, s.max
}

func (p *PointPhase) histogram() **hdr.PackedHistogram { return &p.hist }
func (p *PointPhase) encoded() *string                 { return &p.HDR }

// derive fills a Latency's derived fields and encodes its histogram.
func (l *Latency) derive() {
	if l.Count == 0 {
		*l = Latency{}
		return
	}
	l.MeanNS = l.SumNS / l.Count
	l.P50NS = percentile(l.hist, 50, l.MinNS, l.MaxNS)
	l.P90NS = percentile(l.hist, 90, l.MinNS, l.MaxNS)
	l.P99NS = percentile(l.hist, 99, l.MinNS, l.MaxNS)
	l.P999NS = percentile(l.hist, 99.9, l.MinNS, l.MaxNS)
}

func (p *PointPhase) derive() {
	p.MeanNS, p.P50NS, p.P99NS = 0, 0, 0
	if p.Count == 0 {
		return
	}
	p.MeanNS = p.SumNS / p.Count
	p.P50NS = percentile(p.hist, 50, p.MinNS, p.MaxNS)
	p.P99NS = percentile(p.hist, 99, p.MinNS, p.MaxNS)
}

// encode caches the encoding of d's histogram, unless already done.
// Only writing the document needs it: an encoding compresses, with a
// fresh compressor of most of a megabyte each time, so a run encodes
// nothing until then.
func encode(d distribution) {
	h, s := *d.histogram(), d.encoded()
	if h == nil || *s != "" {
		return
	}
	// Encoding a PackedHistogram writes to memory and cannot fail.
	b, _ := h.Encode()
	*s = string(b)
}

// newResult returns an empty result with this build's parameters.
func newResult() *Result {
	r := &Result{
		Format:   Format,
		Tool:     thisTool(),
		Replies:  map[string]int64{},
		Enhanced: map[string]int64{},
		Errors:   map[string]int64{},
		Latency: Latencies{
			Params: params(hdrSigFigs),
			Phases: map[string]*Latency{},
		},
		Series: Series{
			IntervalNS: int64(time.Second),
			HDR:        params(seriesSigFigs),
		},
	}
	return r
}

func params(sigfigs int) Params {
	return Params{
		Unit:     "ns",
		Lowest:   hdrLowest,
		Highest:  hdrHighest,
		SigFigs:  sigfigs,
		Encoding: Encoding,
	}
}

// thisTool describes the running build.
func thisTool() Tool {
	t := Tool{Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		t.Version = bi.Main.Version
	}
	return t
}

// finish recomputes the derived fields and puts everything that has an
// order in order.
func (r *Result) finish() {
	r.Format = Format
	r.Messages.derive()
	r.ElapsedNS = r.Time.EndNS - r.Time.StartNS
	r.RatePerS = 0
	if r.ElapsedNS > 0 {
		sec := time.Duration(r.ElapsedNS).Seconds()
		r.RatePerS = float64(r.Messages.Accepted) / sec
	}

	for _, m := range []*map[string]int64{
		&r.Replies, &r.Enhanced, &r.Errors,
	} {
		if *m == nil {
			*m = map[string]int64{}
		}
	}

	if r.Latency.Phases == nil {
		r.Latency.Phases = map[string]*Latency{}
	}
	for p := range NumPhases {
		l := r.Latency.Phases[p.String()]
		if l == nil {
			l = &Latency{}
			r.Latency.Phases[p.String()] = l
		}
		l.derive()
	}

	if r.Series.Points == nil {
		r.Series.Points = []*Point{}
	}
	for _, pt := range r.Series.Points {
		pt.derive()
	}
	slices.SortFunc(r.Sources, compareSources)
	r.Delivery.derive()
}

// encodeHistograms fills in the encodings of all of r's histograms.
func (r *Result) encodeHistograms() {
	for _, l := range r.Latency.Phases {
		encode(l)
	}
	for _, pt := range r.Series.Points {
		for _, pp := range pt.Phases {
			encode(pp)
		}
	}
	if r.Delivery != nil {
		encode(&r.Delivery.Latency)
	}
}

func (m *Messages) derive() {
	m.Attempted = m.Accepted + m.TempFail + m.PermFail + m.Error +
		m.Unknown
}

func (pt *Point) derive() {
	pt.Messages.derive()
	for _, pp := range pt.Phases {
		pp.derive()
	}
}

// add adds the pending second's numbers to pt.
func (pt *Point) add(p *pending) {
	pt.Messages.add(messagesOf(&p.n))
	pt.Late += p.n[cLate]
	pt.Dropped += p.n[cDropped]
	for ph := range NumPhases {
		st := p.stats[ph]
		if st.n == 0 {
			continue
		}
		pp := pt.phase(ph.String())
		pp.setExact(pp.exact().merged(st))
		if !seriesHist(ph) {
			continue
		}
		if pp.hist == nil {
			pp.hist = hdr.NewPacked(hdrLowest, hdrHighest, seriesSigFigs)
		}
		pp.hist.MergeFrom(p.hists[ph])
		pp.HDR = ""
	}
}

// phase returns pt's entry for the phase named name, adding it if
// needed.
func (pt *Point) phase(name string) *PointPhase {
	if pt.Phases == nil {
		pt.Phases = map[string]*PointPhase{}
	}
	pp := pt.Phases[name]
	if pp == nil {
		pp = &PointPhase{}
		pt.Phases[name] = pp
	}
	return pp
}

// seal derives a finished point's fields once and trims its storage.
func (pt *Point) seal() {
	pt.derive()
	for _, pp := range pt.Phases {
		if pp.hist != nil {
			pp.hist.Compact()
		}
	}
}

// clone returns a deep copy of pt.
func (pt *Point) clone() *Point {
	c := *pt
	c.Phases = nil
	for name, pp := range pt.Phases {
		cp := *pp
		if pp.hist != nil {
			cp.hist = pp.hist.Clone()
		}
		if c.Phases == nil {
			c.Phases = map[string]*PointPhase{}
		}
		c.Phases[name] = &cp
	}
	return &c
}

func (m *Messages) add(o Messages) {
	m.Accepted += o.Accepted
	m.TempFail += o.TempFail
	m.PermFail += o.PermFail
	m.Error += o.Error
	m.Unknown += o.Unknown
	m.derive()
}

func messagesOf(n *counters) Messages {
	m := Messages{
		Accepted: n[Accepted],
		TempFail: n[TempFail],
		PermFail: n[PermFail],
		Error:    n[Error],
		Unknown:  n[Unknown],
	}
	m.derive()
	return m
}

// merged returns the statistics of a and b together; sums saturate
// rather than wrap (Merge checks for overflow before).
func (a stats) merged(b stats) stats {
	switch {
	case b.n == 0:
		return a
	case a.n == 0:
		return b
	}
	return stats{
		n:   satAdd(a.n, b.n),
		sum: satAdd(a.sum, b.sum),
		min: min(a.min, b.min),
		max: max(a.max, b.max),
	}
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Result returns the run's result as of the last Tick. The caller fills
// in what the recorder cannot know (Config, RunID, Shard, Host...) and
// may correct Time (the end is the last Tick).
func (r *Recorder) Result() *Result {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()

	res := newResult()
	res.Time = Times{StartNS: r.startNS, EndNS: r.lastNS, Complete: true}
	r.tot.fill(res)
	for _, pt := range r.series {
		res.Series.Points = append(res.Series.Points, pt.clone())
	}
	res.finish()
	return res
}

// fill copies the totals into res.
func (t *totals) fill(res *Result) {
	n := &t.n
	res.Messages = messagesOf(n)
	res.Recipients = Recipients{n[cRcptAccepted], n[cRcptRejected]}
	res.Sessions = Sessions{n[cSessionsOpened], n[cSessionsDone]}
	res.Bytes = Bytes{n[cBytesOut], n[cBytesIn]}
	res.Schedule = Schedule{n[cLate], n[cDropped]}

	for k, c := range t.replies {
		res.Replies[k.phase().verb()+" "+strconv.Itoa(k.code())] += c
	}
	for k, c := range t.enhanced {
		res.Enhanced[k.String()] += c
	}
	for k, c := range t.errors {
		res.Errors[k.phase().verb()+" "+k.kind().String()] += c
	}
	t.fillTLS(res)

	for p := range NumPhases {
		if t.stats[p].n == 0 {
			continue
		}
		l := &Latency{}
		l.setExact(t.stats[p])
		l.hist = hdr.NewPacked(hdrLowest, hdrHighest, hdrSigFigs)
		l.hist.MergeFrom(t.hists[p])
		res.Latency.Phases[p.String()] = l
	}
}

// compareSources orders sources by start, then by everything else, so
// that the order never depends on the order of a merge's inputs.
func compareSources(a, b Source) int {
	return cmp.Or(
		cmp.Compare(a.StartNS, b.StartNS),
		cmp.Compare(a.EndNS, b.EndNS),
		cmp.Compare(shardIndex(a.Shard), shardIndex(b.Shard)),
		cmp.Compare(hostname(a.Host), hostname(b.Host)),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Accepted, b.Accepted),
		cmpBool(a.Complete, b.Complete),
		cmpJSON(a, b),
	)
}

func shardIndex(s *ShardInfo) int {
	if s == nil {
		return -1
	}
	return s.Index
}

func hostname(h *Host) string {
	if h == nil {
		return ""
	}
	return h.Hostname
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// cmpJSON breaks the last ties (fields no other comparison looks at) by
// the sources' encodings.
func cmpJSON(a, b Source) int {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return cmp.Compare(string(ja), string(jb))
}

// String returns "index/count" or, for a merged result, the shards it
// holds.
func (s *ShardInfo) String() string {
	if s.Merged != nil {
		return fmt.Sprintf("%v/%d", s.Merged, s.Count)
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
