package delivery

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// stamped returns a header section stamped by run runID as message
// seq, sent at sent.
func stamped(runID string, seq int64, sent time.Time) []byte {
	return fmt.Appendf(nil, "From: a@example.com\n"+
		"X-Smtp-Source-Run: %s\nX-Smtp-Source-Seq: %d\n"+
		"X-Smtp-Source-Sent: %s\n\n", runID, seq,
		sent.UTC().Format(time.RFC3339Nano))
}

func TestTrackerCounts(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	tr := New("")
	now := base
	tr.now = func() time.Time { return now }

	arrive := func(run string, seq int64, latency time.Duration,
		client string) {
		now = now.Add(time.Millisecond)
		tr.Arrived(stamped(run, seq, now.Add(-latency)), client)
	}
	arrive("run1", 0, 10*time.Millisecond, "10.0.0.1")
	arrive("run1", 2, 20*time.Millisecond, "10.0.0.1")
	arrive("run1", 1, 30*time.Millisecond, "10.0.0.2") // out of order
	arrive("run1", 2, 40*time.Millisecond, "10.0.0.2") // duplicate
	arrive("run2", 3, time.Millisecond, "10.0.0.2")    // foreign
	tr.Arrived([]byte("Subject: none\n\n"), "10.0.0.2")
	arrive("run1", MaxSeq+5, time.Second, "10.0.0.1")
	arrive("run1", MaxSeq+5, time.Second, "10.0.0.1") // not tracked

	d := tr.Delivery()
	got := [6]int64{d.Arrived, d.Distinct, d.Duplicated, d.OutOfOrder,
		d.Foreign, d.Unstamped}
	want := [6]int64{6, 5, 1, 1, 1, 1}
	if got != want {
		t.Errorf("arrived, distinct, duplicated, out of order, "+
			"foreign, unstamped = %v, want %v", got, want)
	}
	if tr.RunID() != "run1" {
		t.Errorf("run id %q, want the first seen, run1", tr.RunID())
	}
	if d.Clients["10.0.0.1"] != 4 || d.Clients["10.0.0.2"] != 2 {
		t.Errorf("clients %v, want 10.0.0.1:4 10.0.0.2:2", d.Clients)
	}
	if d.Latency.Count != 6 || d.Latency.MinNS != int64(10*time.Millisecond) ||
		d.Latency.MaxNS != int64(time.Second) {
		t.Errorf("latency count %d min %d max %d, want 6 10ms 1s",
			d.Latency.Count, d.Latency.MinNS, d.Latency.MaxNS)
	}
	if d.FirstNS != base.Add(time.Millisecond).UnixNano() {
		t.Errorf("first arrival %d, want the first message's", d.FirstNS)
	}
}

func TestTrackerRunFilter(t *testing.T) {
	tr := New("wanted")
	sent := time.Now()
	tr.Arrived(stamped("other", 0, sent), "c")
	tr.Arrived(stamped("wanted", 0, sent), "c")
	d := tr.Delivery()
	if d.Arrived != 1 || d.Foreign != 1 {
		t.Errorf("arrived %d foreign %d, want 1 1", d.Arrived, d.Foreign)
	}
}

// The result document carries the section through an encoding, and a
// merge of two receivers' results adds them up.
func TestTrackerResultRoundTrip(t *testing.T) {
	tr := New("e2e")
	sent := time.Now().Add(-50 * time.Millisecond)
	for seq := range int64(100) {
		tr.Arrived(stamped("e2e", seq, sent), "127.0.0.1")
	}
	var buf bytes.Buffer
	if err := tr.Result().Encode(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Delivery
	if r.RunID != "e2e" || d == nil || d.Distinct != 100 ||
		d.Latency.P99NS < int64(50*time.Millisecond) {
		t.Fatalf("decoded run %q delivery %+v", r.RunID, d)
	}
	if r.Messages.Attempted != 0 {
		t.Errorf("a receiver's result sent %d messages", r.Messages.Attempted)
	}

	if _, err := metrics.Merge(r, r); err == nil {
		t.Error("the same receiver's result merged with itself")
	}

	other := New("e2e")
	for seq := range int64(100) {
		other.Arrived(stamped("e2e", 100+seq, sent), "127.0.0.1")
	}
	m, err := metrics.Merge(r, other.Result())
	if err != nil {
		t.Fatal(err)
	}
	if m.Delivery.Arrived != 200 || m.Delivery.Latency.Count != 200 {
		t.Errorf("merged arrived %d latency count %d, want 200 200",
			m.Delivery.Arrived, m.Delivery.Latency.Count)
	}
}
