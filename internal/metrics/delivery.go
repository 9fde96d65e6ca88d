package metrics

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Delivery is what a receiver (go-smtp-sink --delivery) saw of one
// run's stamped messages (see message.ParseStamp): how many arrived,
// which twice or out of order, and how long each took from its send
// time to its arrival. A result with a Delivery section and no
// messages sent is a receiver's result.
//
// The latency is the receiver's clock at arrival minus the sender's
// clock at sending: both must be one machine's, or synchronised.
type Delivery struct {
	Arrived    int64 `json:"arrived"`      // stamped messages of the run
	Distinct   int64 `json:"distinct"`     // of those, distinct numbers
	Duplicated int64 `json:"duplicated"`   // arrivals of a number seen
	OutOfOrder int64 `json:"out_of_order"` // below the highest seen
	Foreign    int64 `json:"foreign"`      // stamped by another run
	Unstamped  int64 `json:"unstamped"`    // with no stamp at all

	// FirstNS and LastNS are the first and last arrivals, in Unix ns.
	FirstNS int64 `json:"first_ns"`
	LastNS  int64 `json:"last_ns"`

	// Latency is the distribution of arrival - sent, with the
	// parameters of the document's latency section. A negative
	// difference (clocks apart) counts as 0.
	Latency Latency `json:"latency"`

	// Clients counts the run's arrivals by client address.
	Clients map[string]int64 `json:"clients,omitempty"`

	// Points holds the arrivals of each second, in time order.
	Points []*DeliveryPoint `json:"points,omitempty"`
}

// DeliveryPoint is one second of arrivals, T seconds after the Unix
// epoch. Its percentiles come from a histogram that is not kept, so a
// merge keeps the larger of two.
type DeliveryPoint struct {
	T       int64 `json:"t"`
	Arrived int64 `json:"arrived"`
	P50NS   int64 `json:"p50_ns"`
	P99NS   int64 `json:"p99_ns"`
	MaxNS   int64 `json:"max_ns"`
}

// DeliveryRecorder accumulates a Delivery's latencies; it is not safe
// for concurrent use.
type DeliveryRecorder struct {
	d      Delivery
	st     stats
	hist   *hdr.Histogram
	second int64
	sec    *hdr.Histogram // the current second's latencies
	secMax int64
}

// NewDeliveryRecorder returns an empty recorder.
func NewDeliveryRecorder() *DeliveryRecorder {
	return &DeliveryRecorder{
		hist: hdr.New(hdrLowest, hdrHighest, hdrSigFigs),
		sec:  hdr.New(hdrLowest, hdrHighest, seriesSigFigs),
	}
}

// Counts returns the counters to update (everything but the latency,
// the times and the points, which Observe keeps).
func (r *DeliveryRecorder) Counts() *Delivery { return &r.d }

// Observe records an arrival at time at, latency after it was sent.
func (r *DeliveryRecorder) Observe(at time.Time, latency time.Duration) {
	ns := max(int64(latency), 0)
	r.st.add(ns)
	r.hist.RecordValue(min(max(ns, hdrLowest), hdrHighest))

	now := at.UnixNano()
	if r.d.FirstNS == 0 {
		r.d.FirstNS = now
	}
	r.d.LastNS = max(r.d.LastNS, now)
	sec := at.Unix()
	if sec != r.second && r.sec.TotalCount() > 0 {
		r.closeSecond()
	}
	r.second = sec
	r.sec.RecordValue(min(max(ns, hdrLowest), hdrHighest))
	r.secMax = max(r.secMax, ns)
}

// closeSecond appends the current second's point, or adds it to the
// last point when arrivals of a second come late.
func (r *DeliveryRecorder) closeSecond() {
	pt := &DeliveryPoint{
		T:       r.second,
		Arrived: r.sec.TotalCount(),
		P50NS:   min(r.sec.ValueAtQuantile(50), r.secMax),
		P99NS:   min(r.sec.ValueAtQuantile(99), r.secMax),
		MaxNS:   r.secMax,
	}
	r.d.Points = addPoint(r.d.Points, pt)
	r.sec.Reset()
	r.secMax = 0
}

// addPoint adds pt to points, which are in time order.
func addPoint(points []*DeliveryPoint, pt *DeliveryPoint) []*DeliveryPoint {
	i, found := slices.BinarySearchFunc(points, pt.T,
		func(p *DeliveryPoint, t int64) int { return int(p.T - t) })
	if !found {
		return slices.Insert(points, i, pt)
	}
	old := points[i]
	old.Arrived += pt.Arrived
	old.P50NS = max(old.P50NS, pt.P50NS)
	old.P99NS = max(old.P99NS, pt.P99NS)
	old.MaxNS = max(old.MaxNS, pt.MaxNS)
	return points
}

// Delivery returns a copy of what was recorded so far.
func (r *DeliveryRecorder) Delivery() *Delivery {
	d := r.d
	d.Clients = maps.Clone(r.d.Clients)
	d.Points = nil
	for _, pt := range r.d.Points {
		c := *pt
		d.Points = append(d.Points, &c)
	}
	if r.sec.TotalCount() > 0 {
		d.Points = addPoint(d.Points, &DeliveryPoint{
			T:       r.second,
			Arrived: r.sec.TotalCount(),
			P50NS:   min(r.sec.ValueAtQuantile(50), r.secMax),
			P99NS:   min(r.sec.ValueAtQuantile(99), r.secMax),
			MaxNS:   r.secMax,
		})
	}
	d.Latency = Latency{}
	if r.st.n > 0 {
		d.Latency.setExact(r.st)
		d.Latency.hist = hdr.NewPacked(hdrLowest, hdrHighest, hdrSigFigs)
		d.Latency.hist.MergeFrom(r.hist)
	}
	return &d
}

// NewDeliveryResult returns a receiver's result document holding d,
// for the run runID, between start and end.
func NewDeliveryResult(runID string, d *Delivery, start,
	end time.Time) *Result {

	r := newResult()
	r.RunID = runID
	r.Delivery = d
	r.Time = Times{StartNS: start.UnixNano(), EndNS: end.UnixNano(),
		Complete: true}
	r.finish()
	return r
}

// derive fills the derived fields of d's latency.
func (d *Delivery) derive() {
	if d != nil {
		d.Latency.derive()
	}
}

// load checks a decoded Delivery and decodes its histogram.
func (d *Delivery) load(par Params) error {
	if d == nil {
		return nil
	}
	if err := nonNegative("delivery", d.Arrived, d.Distinct,
		d.Duplicated, d.OutOfOrder, d.Foreign, d.Unstamped); err != nil {
		return err
	}
	if d.Distinct > d.Arrived || d.Duplicated > d.Arrived {
		return errors.New("delivery: more distinct or duplicated " +
			"messages than arrived")
	}
	if d.LastNS < d.FirstNS {
		return errors.New("delivery: last arrival before the first")
	}
	for i, pt := range d.Points {
		if pt == nil || (i > 0 && pt.T <= d.Points[i-1].T) {
			return errors.New("delivery: points are not in time order")
		}
	}
	if err := loadDist(&d.Latency, par, true); err != nil {
		return fmt.Errorf("delivery: latency: %w", err)
	}
	return nil
}

// delivery adds r's Delivery to out's. Duplicates across the inputs
// cannot be known: each receiver's sequence numbers are its own.
func (s *summer) delivery(out, r *Result) {
	src := r.Delivery
	if src == nil {
		return
	}
	if out.Delivery == nil {
		out.Delivery = &Delivery{}
	}
	dst := out.Delivery
	for _, c := range []struct{ dst, v *int64 }{
		{&dst.Arrived, &src.Arrived},
		{&dst.Distinct, &src.Distinct},
		{&dst.Duplicated, &src.Duplicated},
		{&dst.OutOfOrder, &src.OutOfOrder},
		{&dst.Foreign, &src.Foreign},
		{&dst.Unstamped, &src.Unstamped},
	} {
		s.add(c.dst, *c.v)
	}
	if dst.FirstNS == 0 || (src.FirstNS != 0 && src.FirstNS < dst.FirstNS) {
		dst.FirstNS = src.FirstNS
	}
	dst.LastNS = max(dst.LastNS, src.LastNS)
	if len(src.Clients) > 0 && dst.Clients == nil {
		dst.Clients = map[string]int64{}
	}
	s.counts(dst.Clients, src.Clients)
	for _, pt := range src.Points {
		c := *pt
		dst.Points = addPoint(dst.Points, &c)
	}
	if src.Latency.Count > 0 {
		s.dist(&dst.Latency, &src.Latency)
	}
}
