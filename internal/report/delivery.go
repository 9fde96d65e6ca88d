package report

import (
	"errors"
	"fmt"
	"math"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
)

// DeliveryStats pairs a sender's result with a receiver's (go-smtp-sink
// --out) of the same run: what was sent, what arrived, and how long
// messages took from being sent to arriving (the relay latency, for a
// sink behind an MTA).
type DeliveryStats struct {
	// Sent is the messages the sender had accepted; 0 when the report
	// has only the receiver's side.
	Sent       int64 `json:"sent"`
	Arrived    int64 `json:"arrived"`  // duplicates included
	Distinct   int64 `json:"distinct"` // distinct sequence numbers
	Lost       int64 `json:"lost"`     // sent - distinct, at least 0
	Duplicated int64 `json:"duplicated"`
	OutOfOrder int64 `json:"out_of_order"`
	Foreign    int64 `json:"foreign"`   // of other runs
	Unstamped  int64 `json:"unstamped"` // without a stamp

	MinNS  int64 `json:"min_ns"`
	MeanNS int64 `json:"mean_ns"`
	P50NS  int64 `json:"p50_ns"`
	P90NS  int64 `json:"p90_ns"`
	P99NS  int64 `json:"p99_ns"`
	P999NS int64 `json:"p999_ns"`
	MaxNS  int64 `json:"max_ns"`

	FirstNS int64 `json:"first_ns"`
	LastNS  int64 `json:"last_ns"`

	Clients map[string]int64         `json:"clients,omitempty"`
	Series  []*metrics.DeliveryPoint `json:"series,omitempty"`
}

// isReceiver reports whether r is a receiver's result: a delivery
// section and no message sent.
func isReceiver(r *metrics.Result) bool {
	return r.Delivery != nil && r.Messages.Attempted == 0
}

// pair splits results into senders' and receivers' and merges each
// side. Either may be nil, not both.
func pair(rs []*metrics.Result) (sender, receiver *metrics.Result,
	err error) {

	var senders, receivers []*metrics.Result
	for _, r := range rs {
		if isReceiver(r) {
			receivers = append(receivers, r)
		} else {
			senders = append(senders, r)
		}
	}
	if sender, err = mergeSide(senders); err != nil {
		return nil, nil, err
	}
	if receiver, err = mergeSide(receivers); err != nil {
		return nil, nil, err
	}
	if sender != nil && receiver != nil && receiver.RunID != "" &&
		sender.RunID != receiver.RunID {
		return nil, nil, fmt.Errorf("the receiver's run id %q is not "+
			"the sender's %q", receiver.RunID, sender.RunID)
	}
	return sender, receiver, nil
}

func mergeSide(rs []*metrics.Result) (*metrics.Result, error) {
	switch len(rs) {
	case 0:
		return nil, nil
	case 1:
		return rs[0], nil
	}
	r, err := metrics.Merge(rs...)
	if err != nil {
		if d := configDiff(rs); d != "" {
			err = fmt.Errorf("%w (first difference: %s)", err, d)
		}
	}
	return r, err
}

// configDiff names the first option in which a result of the same run
// was made with different options than the first result, or "".
func configDiff(rs []*metrics.Result) string {
	a := rs[0]
	for _, b := range rs[1:] {
		if a.Format == b.Format && a.RunID == b.RunID &&
			a.ConfigHash != b.ConfigHash {
			return shard.ResultsDiff(a, b)
		}
	}
	return ""
}

// deliveryStats returns the delivery section of a report of sender's
// results (nil when there is none) and receiver's.
func deliveryStats(sender, receiver *metrics.Result) *DeliveryStats {
	d := receiver.Delivery
	l := &d.Latency
	st := &DeliveryStats{
		Arrived:    d.Arrived,
		Distinct:   d.Distinct,
		Duplicated: d.Duplicated,
		OutOfOrder: d.OutOfOrder,
		Foreign:    d.Foreign,
		Unstamped:  d.Unstamped,
		MinNS:      l.MinNS,
		MeanNS:     l.MeanNS,
		P50NS:      l.P50NS,
		P90NS:      l.P90NS,
		P99NS:      l.P99NS,
		P999NS:     l.P999NS,
		MaxNS:      l.MaxNS,
		FirstNS:    d.FirstNS,
		LastNS:     d.LastNS,
		Clients:    d.Clients,
		Series:     d.Points,
	}
	if sender != nil {
		st.Sent = sender.Messages.Accepted
		st.Lost = max(st.Sent-st.Distinct, 0)
	}
	return st
}

// summarizePair returns the summary of a run's sender and receiver
// results, either of which may be nil.
func summarizePair(sender, receiver *metrics.Result) (*Summary, error) {
	switch {
	case sender == nil && receiver == nil:
		return nil, errors.New("no result")
	case receiver == nil:
		return Summarize(sender), nil
	case sender == nil:
		s := Summarize(receiver)
		s.Delivery = deliveryStats(nil, receiver)
		return s, nil
	}
	s := Summarize(sender)
	s.Delivery = deliveryStats(sender, receiver)
	return s, nil
}

// deliveryRows returns the delivery lines of the header block.
func deliveryRows(s *Summary) []kv {
	d := s.Delivery
	if d == nil {
		return nil
	}
	sent := "sent unknown (no sender result)"
	if s.Messages.Attempted > 0 || d.Sent > 0 {
		sent = fmt.Sprintf("sent %d, lost %d", d.Sent, d.Lost)
	}
	rows := []kv{
		{"delivery", fmt.Sprintf("%s, arrived %d (%d distinct), "+
			"duplicated %d, out of order %d", sent, d.Arrived,
			d.Distinct, d.Duplicated, d.OutOfOrder)},
	}
	if d.Foreign+d.Unstamped > 0 {
		rows = append(rows, kv{"", fmt.Sprintf("also %d of other runs, "+
			"%d unstamped", d.Foreign, d.Unstamped)})
	}
	if d.Arrived > 0 {
		rows = append(rows, kv{"relay", fmt.Sprintf("p50 %s  p90 %s  "+
			"p99 %s  p99.9 %s  max %s (sent to arrival)",
			duration(d.P50NS), duration(d.P90NS), duration(d.P99NS),
			duration(d.P999NS), duration(d.MaxNS))})
		rows = append(rows, kv{"arrivals", fmt.Sprintf("%s to %s, "+
			"from %d clients", clock(d.FirstNS), clock(d.LastNS),
			len(d.Clients))})
	}
	return rows
}

// deliveryChart plots relay latency (p50, p99, max) per second of
// arrival, on the axis of the sender's seconds.
func deliveryChart(s *Summary) *chart {
	base := math.Floor(float64(s.StartNS) / 1e9)
	lines := []plotLine{
		{name: "p50", color: "#1f77b4"},
		{name: "p99", color: "#d62728"},
		{name: "max", color: "#7f7f7f", dash: "4 3"},
	}
	hi := 1.0
	for i, pt := range s.Delivery.Series {
		x := float64(pt.T) - base
		hi = math.Max(hi, x)
		for j, v := range []int64{pt.P50NS, pt.P99NS, pt.MaxNS} {
			if i > 0 && pt.T-s.Delivery.Series[i-1].T > 1 {
				lines[j].pts = append(lines[j].pts, xy{x, math.NaN()})
			}
			lines[j].pts = append(lines[j].pts, xy{x, float64(max(v, 1))})
		}
	}
	x := linearAxis(0, hi, func(v float64) string {
		return shortNumber(v) + "s"
	})
	x.label = "seconds since the start"
	return latencyChart("Relay latency per second of arrival (sent to "+
		"arrival at the sink)", x, lines)
}
