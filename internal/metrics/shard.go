package metrics

import (
	"sync"
	"time"
)

// Counter indexes: one counter per outcome (Outcome values come first),
// then the others.
const (
	cRcptAccepted = int(numOutcomes) + iota
	cRcptRejected
	cSessionsOpened
	cSessionsDone
	cBytesOut
	cBytesIn
	cLate
	cDropped
	cTLSResumed
	numCounters
)

// counters is a fixed set of event counts.
type counters [numCounters]int64

func (c *counters) add(o *counters) {
	for i, v := range o {
		c[i] += v
	}
}

// replyKey is a reply code seen in a phase, packed in a word so that
// counting it takes the maps' fast path.
type replyKey uint32

func newReplyKey(p Phase, code int) replyKey {
	return replyKey(uint32(p)<<16 | uint32(code))
}

func (k replyKey) phase() Phase { return Phase(k >> 16) }
func (k replyKey) code() int    { return int(k & 0xffff) }

// errKey is a transport failure in a phase, packed likewise.
type errKey uint32

func newErrKey(p Phase, k Kind) errKey {
	return errKey(uint32(p)<<8 | uint32(k))
}

func (k errKey) phase() Phase { return Phase(k >> 8) }
func (k errKey) kind() Kind   { return Kind(k & 0xff) }

// Latencies travel from shards to the ticker as one word: the phase in
// the top byte and the nanoseconds below, which leaves room for over
// two years.
const (
	phaseShift = 56
	valueMask  = 1<<phaseShift - 1
)

// interval is what a shard saw since the last tick.
type interval struct {
	vals     []uint64 // phase<<phaseShift | nanoseconds
	n        counters
	replies  tally // of replyKey
	enhanced tally // of Enhanced
	errors   tally // of errKey
	tls      tally // of version<<16 | cipher suite
}

// newInterval returns an empty interval. Its buffer starts small and
// grows to what the session records in a second, then is reused: with
// thousands of sessions, a large start would be megabytes of idle
// memory.
func newInterval() *interval {
	return &interval{vals: make([]uint64, 0, 16)}
}

// reset empties iv and keeps its storage for the next interval.
func (iv *interval) reset() {
	iv.vals = iv.vals[:0]
	iv.n = counters{}
	iv.replies.reset()
	iv.enhanced.reset()
	iv.errors.reset()
	iv.tls.reset()
}

// tally counts keys. A session sees few distinct reply codes (seven in
// a plain transaction: banner, HELO, MAIL, RCPT, DATA, end of data and
// QUIT), so the first ones are kept in an array, which a short scan
// beats a map at; any more go to a map.
type tally struct {
	keys [8]uint32
	vals [8]int64
	n    int
	more map[uint32]int64
}

func (t *tally) inc(k uint32) {
	for i := range t.n {
		if t.keys[i] == k {
			t.vals[i]++
			return
		}
	}
	if t.n < len(t.keys) {
		t.keys[t.n], t.vals[t.n] = k, 1
		t.n++
		return
	}
	if t.more == nil {
		t.more = make(map[uint32]int64)
	}
	t.more[k]++
}

// addTo adds the counts to m.
func addTo[K ~uint32](m map[K]int64, t *tally) {
	for i := range t.n {
		m[K(t.keys[i])] += t.vals[i]
	}
	for k, v := range t.more {
		m[K(k)] += v
	}
}

func (t *tally) reset() {
	t.n = 0
	clear(t.more)
}

func (iv *interval) latency(p Phase, d time.Duration) {
	v := max(int64(d), 0)
	v = min(v, valueMask)
	iv.vals = append(iv.vals, uint64(p)<<phaseShift|uint64(v))
}

// A Shard records the events of one session. Its methods are safe for
// concurrent use, but a Shard is meant for one goroutine: then its
// mutex is never contended and recording costs a few tens of
// nanoseconds, without allocating once the shard has seen each reply
// code once.
//
// What a shard records reaches the run totals at the next Tick.
type Shard struct {
	r *Recorder

	mu     sync.Mutex
	cur    *interval
	closed bool

	// Used only by the ticker: the next interval, and whether the shard
	// was closed when last drained.
	spare *interval
	gone  bool
}

// Step records one completed SMTP step that took d: code is the reply
// code (0 for a step without a reply, such as connect or the TLS
// handshake) and enh its enhanced status code (0 for none). d goes
// into the phase's histogram; the reply is counted as "PHASE CODE"
// ("RCPT 450"). Steps of an unknown phase are ignored.
func (s *Shard) Step(p Phase, d time.Duration, code int, enh Enhanced) {
	if p >= NumPhases {
		return
	}
	s.mu.Lock()
	s.cur.latency(p, d)
	if code > 0 && code < 1000 {
		s.cur.replies.inc(uint32(newReplyKey(p, code)))
	}
	if enh != 0 {
		s.cur.enhanced.inc(uint32(enh))
	}
	s.mu.Unlock()
}

// Fail records a step that ended in a transport failure of kind k (see
// Classify; KindNone counts as KindOther). Its duration is not a
// latency and is not recorded.
func (s *Shard) Fail(p Phase, k Kind) {
	if p >= NumPhases {
		return
	}
	if k == KindNone || k >= numKinds {
		k = KindOther
	}
	s.mu.Lock()
	s.cur.errors.inc(uint32(newErrKey(p, k)))
	s.mu.Unlock()
}

// Message records the end of one message. d is its transaction time,
// from MAIL to the final reply; fromIntended is the same from the
// message's scheduled start (open model), or 0. Both are recorded only
// when a final reply was read (Accepted, TempFail, PermFail); every
// call counts one attempted message.
func (s *Shard) Message(o Outcome, d, fromIntended time.Duration) {
	if o >= numOutcomes {
		o = Error
	}
	s.mu.Lock()
	s.cur.n[o]++
	if o <= PermFail {
		s.cur.latency(Transaction, d)
		if fromIntended > 0 {
			s.cur.latency(TransactionFromIntended, fromIntended)
		}
	}
	s.mu.Unlock()
}

// Recipients counts recipients accepted and rejected by RCPT.
func (s *Shard) Recipients(accepted, rejected int) {
	s.mu.Lock()
	s.cur.n[cRcptAccepted] += int64(accepted)
	s.cur.n[cRcptRejected] += int64(rejected)
	s.mu.Unlock()
}

// SessionOpened counts a session (a connection) that started.
func (s *Shard) SessionOpened() { s.count(cSessionsOpened) }

// SessionDone records the end of a session started with SessionOpened,
// d after it started.
func (s *Shard) SessionDone(d time.Duration) {
	s.mu.Lock()
	s.cur.n[cSessionsDone]++
	s.cur.latency(Session, d)
	s.mu.Unlock()
}

// Bytes counts bytes written to and read from the server.
func (s *Shard) Bytes(out, in int64) {
	s.mu.Lock()
	s.cur.n[cBytesOut] += out
	s.cur.n[cBytesIn] += in
	s.mu.Unlock()
}

// Late counts a send that started after its scheduled time (open model).
func (s *Shard) Late() { s.count(cLate) }

// Dropped counts a scheduled send that was skipped (open model).
func (s *Shard) Dropped() { s.count(cDropped) }

// Missed counts n scheduled sends that never started because the run
// ended first: each is late and dropped (open model).
func (s *Shard) Missed(n int64) {
	s.mu.Lock()
	s.cur.n[cLate] += n
	s.cur.n[cDropped] += n
	s.mu.Unlock()
}

func (s *Shard) count(c int) {
	s.mu.Lock()
	s.cur.n[c]++
	s.mu.Unlock()
}

// Close retires the shard: what it recorded is taken at the next Tick,
// after which the recorder forgets it. The shard must not be used after
// Close.
func (s *Shard) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// swap hands the current interval to the ticker and starts the next
// one in the spare, which a shard gets at its first swap: a session that
// ends within its first second never needs one.
func (s *Shard) swap() (iv *interval, closed bool) {
	next := s.spare
	if next == nil {
		next = newInterval()
	}
	s.spare = nil

	s.mu.Lock()
	iv, s.cur = s.cur, next
	closed = s.closed
	s.mu.Unlock()
	return iv, closed
}
