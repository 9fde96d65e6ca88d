package metrics

import (
	"sort"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metric names cannot hold '-', hence the prefix.
const promPrefix = "gosmtpsource_"

// PhaseBuckets are the upper bounds, in seconds, of the phase duration
// histograms served to Prometheus: 24 buckets from 200 µs to a minute.
var PhaseBuckets = prometheus.ExponentialBucketsRange(0.0002, 60, 24)

// Register serves r's totals, as of the last Tick, through reg:
// gosmtpsource_phase_duration_seconds{phase} and counters of messages,
// recipients, replies, transport errors, sessions, bytes and schedule
// misses. constLabels (run_id, shard...) are added to every metric.
//
// The duration histograms are derived from the HdrHistograms at scrape
// time, so recording costs nothing extra; a latency within 0.1% of a
// bucket bound may land on either side of it.
func (r *Recorder) Register(reg prometheus.Registerer,
	constLabels prometheus.Labels) error {

	return reg.Register(newCollector(r, constLabels))
}

// collector implements prometheus.Collector over a Recorder.
type collector struct {
	r *Recorder

	phase, messages, recipients, replies, enhanced, errors  *prometheus.Desc
	opened, active, bytesOut, bytesIn, late, dropped, start *prometheus.Desc

	// scratch lists a histogram's buckets; used under r.tickMu.
	scratch *hdr.PackedHistogram
}

func newCollector(r *Recorder, cl prometheus.Labels) *collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(promPrefix+name, help, labels, cl)
	}
	return &collector{
		r: r,
		phase: desc("phase_duration_seconds",
			"Latency of each SMTP phase.", "phase"),
		messages: desc("messages_total",
			"Messages by outcome.", "result"),
		recipients: desc("recipients_total",
			"Recipients accepted and rejected.", "result"),
		replies: desc("smtp_replies_total",
			"Server replies by phase and reply code.", "phase", "code"),
		enhanced: desc("enhanced_status_codes_total",
			"Enhanced status codes in replies.", "code"),
		errors: desc("transport_errors_total",
			"Transport failures by phase and kind.", "phase", "kind"),
		opened: desc("sessions_opened_total", "Sessions opened."),
		active: desc("sessions_active", "Sessions open now."),
		bytesOut: desc("bytes_sent_total",
			"Bytes written to servers."),
		bytesIn: desc("bytes_received_total",
			"Bytes read from servers."),
		late: desc("sends_late_total",
			"Sends started after their scheduled time."),
		dropped: desc("sends_dropped_total",
			"Scheduled sends that were skipped."),
		start: desc("start_time_seconds",
			"Start of the run, in seconds since the Unix epoch."),
		scratch: hdr.NewPacked(hdrLowest, hdrHighest, hdrSigFigs),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.phase, c.messages, c.recipients, c.replies, c.enhanced,
		c.errors, c.opened, c.active, c.bytesOut, c.bytesIn, c.late,
		c.dropped, c.start,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.r.tickMu.Lock()
	defer c.r.tickMu.Unlock()

	t := &c.r.tot
	c.histograms(ch, t)
	c.counters(ch, t)
	for k, n := range t.replies {
		ch <- counter(c.replies, n, k.phase().String(),
			strconv.Itoa(k.code()))
	}
	for k, n := range t.enhanced {
		ch <- counter(c.enhanced, n, k.String())
	}
	for k, n := range t.errors {
		ch <- counter(c.errors, n, k.phase().String(), k.kind().String())
	}
}

func (c *collector) histograms(ch chan<- prometheus.Metric, t *totals) {
	for p := range NumPhases {
		st := t.stats[p]
		if st.n == 0 {
			continue
		}
		ch <- prometheus.MustNewConstHistogram(c.phase, uint64(st.n),
			time.Duration(st.sum).Seconds(), c.buckets(t.hists[p]),
			p.String())
	}
}

// buckets returns the cumulative count of values at or below each bound
// of PhaseBuckets.
func (c *collector) buckets(h *hdr.Histogram) map[float64]uint64 {
	per := make([]uint64, len(PhaseBuckets))
	c.scratch.Reset()
	c.scratch.MergeFrom(h)
	c.scratch.ForEachBucket(func(v, n int64) bool {
		s := time.Duration(v).Seconds()
		if i := sort.SearchFloat64s(PhaseBuckets, s); i < len(per) {
			per[i] += uint64(n)
		}
		return true
	})

	out := make(map[float64]uint64, len(per))
	var cum uint64
	for i, b := range PhaseBuckets {
		cum += per[i]
		out[b] = cum
	}
	return out
}

func (c *collector) counters(ch chan<- prometheus.Metric, t *totals) {
	n := &t.n
	for o := range numOutcomes {
		ch <- counter(c.messages, n[o], o.String())
	}
	ch <- counter(c.recipients, n[cRcptAccepted], "accepted")
	ch <- counter(c.recipients, n[cRcptRejected], "rejected")
	ch <- counter(c.opened, n[cSessionsOpened])
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue,
		float64(n[cSessionsOpened]-n[cSessionsDone]))
	ch <- counter(c.bytesOut, n[cBytesOut])
	ch <- counter(c.bytesIn, n[cBytesIn])
	ch <- counter(c.late, n[cLate])
	ch <- counter(c.dropped, n[cDropped])
	ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue,
		float64(c.r.startNS)/1e9)
}

func counter(d *prometheus.Desc, v int64,
	labels ...string) prometheus.Metric {

	return prometheus.MustNewConstMetric(d, prometheus.CounterValue,
		float64(v), labels...)
}
