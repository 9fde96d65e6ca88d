// Package delivery matches the messages a receiver gets against the run
// that sent them: it reads the stamp go-smtp-source --unique-headers
// puts in each message (see message.ParseStamp) and counts what arrived,
// what arrived twice or out of order, and how long each message took
// from being sent to arriving.
package delivery

import (
	"sync"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// MaxSeq bounds the sequence numbers whose duplicates are detected: the
// set of numbers seen is a bitmap of at most MaxSeq bits (16 MiB).
// Messages numbered above it are counted, but never as duplicates.
const MaxSeq = 1 << 27

// Tracker records the arrivals of one run's messages. It is safe for
// concurrent use.
type Tracker struct {
	mu     sync.Mutex
	runID  string // the run tracked; "" until the first stamp
	seen   []uint64
	top    int64 // the highest sequence number seen, -1 for none
	rec    *metrics.DeliveryRecorder
	start  time.Time
	now    func() time.Time
	counts *metrics.Delivery
}

// New returns a tracker of run runID or, when runID is empty, of the
// first run whose stamp it sees. Messages of other runs count as
// foreign.
func New(runID string) *Tracker {
	rec := metrics.NewDeliveryRecorder()
	return &Tracker{
		runID:  runID,
		top:    -1,
		rec:    rec,
		start:  time.Now(),
		now:    time.Now,
		counts: rec.Counts(),
	}
}

// RunID returns the run tracked, "" if none yet.
func (t *Tracker) RunID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.runID
}

// Arrived records the arrival, now, of a message whose header section
// is header, from the client at address client.
func (t *Tracker) Arrived(header []byte, client string) {
	at := t.now()
	runID, seq, sent, ok := message.ParseStamp(header)

	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts
	switch {
	case !ok:
		c.Unstamped++
		return
	case t.runID == "":
		t.runID = runID
	case runID != t.runID:
		c.Foreign++
		return
	}

	c.Arrived++
	if c.Clients == nil {
		c.Clients = map[string]int64{}
	}
	c.Clients[client]++
	t.rec.Observe(at, at.Sub(sent))

	if t.mark(seq) {
		c.Duplicated++
		return
	}
	c.Distinct++
	if seq < t.top {
		c.OutOfOrder++
	}
	t.top = max(t.top, seq)
}

// mark adds seq to the numbers seen and says whether it was there
// already. Numbers past MaxSeq are never duplicates.
func (t *Tracker) mark(seq int64) bool {
	if seq >= MaxSeq {
		return false
	}
	i, bit := int(seq/64), uint64(1)<<(seq%64)
	if i >= len(t.seen) {
		grown := make([]uint64, max(i+1, 2*len(t.seen)))
		copy(grown, t.seen)
		t.seen = grown
	}
	dup := t.seen[i]&bit != 0
	t.seen[i] |= bit
	return dup
}

// Delivery returns what was recorded so far.
func (t *Tracker) Delivery() *metrics.Delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rec.Delivery()
}

// Result returns a result document of what was recorded so far, from
// the tracker's creation to now.
func (t *Tracker) Result() *metrics.Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return metrics.NewDeliveryResult(t.runID, t.rec.Delivery(), t.start,
		t.now())
}
