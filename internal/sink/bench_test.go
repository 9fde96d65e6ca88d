package sink

import (
	"io"
	"strings"
	"testing"
)

// transaction is one pipelined transaction with a 1 KiB message.
var transaction = "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n" +
	"DATA\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef\r\n", 30) +
	".\r\n"

// repeater reads head, then body n times, then tail, without holding
// the whole stream in memory.
type repeater struct {
	parts []string
	n     int
	cur   string
}

func newRepeater(head, body, tail string, n int) *repeater {
	return &repeater{parts: []string{body, tail}, n: n, cur: head}
}

func (r *repeater) Read(p []byte) (int, error) {
	for r.cur == "" {
		switch {
		case r.n > 0:
			r.cur = r.parts[0]
			r.n--
		case r.parts[1] != "":
			r.cur, r.parts[1] = r.parts[1], ""
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// BenchmarkTransaction runs transactions through one session's command
// loop, without sockets: the cost of the sink per message.
func BenchmarkTransaction(b *testing.B) {
	srv, _ := New(Config{}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(transaction)))
	conn := &fakeConn{r: newRepeater("EHLO x\r\n", transaction, "QUIT\r\n",
		b.N), w: io.Discard}
	b.ResetTimer()
	runSession(srv, conn)
	if got := srv.Stats().Messages; got != int64(b.N) {
		b.Fatalf("%d messages, want %d", got, b.N)
	}
}

// BenchmarkTransactionParallel runs one session per goroutine.
func BenchmarkTransactionParallel(b *testing.B) {
	srv, _ := New(Config{}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(transaction)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			conn := &fakeConn{r: newRepeater("EHLO x\r\n", transaction,
				"QUIT\r\n", 100), w: io.Discard}
			runSession(srv, conn)
		}
	})
}

// TestSteadyStateAllocs checks that a transaction costs no allocation
// once the session is set up.
func TestSteadyStateAllocs(t *testing.T) {
	srv, _ := New(Config{}, nil)
	allocs := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			runSession(srv, &fakeConn{r: newRepeater("EHLO x\r\n",
				transaction, "QUIT\r\n", n), w: io.Discard})
		})
	}
	few, many := allocs(10), allocs(1010)
	if per := (many - few) / 1000; per > 0.01 {
		t.Errorf("%.3f allocations per transaction (%v for 10, %v for"+
			" 1010), want 0", per, few, many)
	}
}
