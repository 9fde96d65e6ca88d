package load

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"net"
	"runtime"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
)

// lean is an SMTP server that allocates nothing per command, so that a
// test in the same process can count the client's allocations.
func lean(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go leanSession(c)
		}
	}()
	return ln
}

var (
	lean220 = []byte("220 lean\r\n")
	lean250 = []byte("250 ok\r\n")
	lean354 = []byte("354 go\r\n")
	lean221 = []byte("221 bye\r\n")
)

func leanSession(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	c.Write(lean220)
	inData := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		switch {
		case inData:
			if bytes.Equal(line, []byte(".\r\n")) {
				inData = false
				c.Write(lean250)
			}
		case bytes.HasPrefix(line, []byte("DATA")):
			inData = true
			c.Write(lean354)
		case bytes.HasPrefix(line, []byte("QUIT")):
			c.Write(lean221)
			return
		default:
			c.Write(lean250)
		}
	}
}

// realGen is smtp-source's default message, built as the command does.
func realGen(t testing.TB) Generator {
	g, err := message.New(message.Config{
		Hostname: "client.example.com", Sender: "s@example.com",
		Recipient: "r@example.com", RcptCount: 1, PID: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Sending over a reused session allocates nothing per message once the
// session is set up: the budget below is for the run's fixed costs.
func TestNoAllocationsPerMessage(t *testing.T) {
	ln := lean(t)
	run := func(m int64) uint64 {
		cfg := config(&server{ln: ln})
		cfg.Gen = realGen(t)
		cfg.Messages, cfg.Sessions, cfg.KeepOpen = m, 2, true
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	run(100) // warm up

	// The least of three tries: a GC cycle or the runtime's own work
	// can land in any one of them.
	perMessage := math.Inf(1)
	for range 3 {
		small, large := run(200), run(5200)
		n := (float64(large) - float64(small)) / 5000
		t.Logf("allocations: %d for 200 messages, %d for 5200 "+
			"(%.3f/msg)", small, large, n)
		perMessage = min(perMessage, n)
	}
	// The lean server and the runtime allocate a little now and then;
	// one allocation per message would show as 1.0.
	if perMessage > 0.05 {
		t.Errorf("%.3f allocations per message, want 0", perMessage)
	}
}

func BenchmarkReusedSession(b *testing.B) {
	ln := lean(b)
	cfg := config(&server{ln: ln})
	cfg.Gen = realGen(b)
	cfg.Messages, cfg.Sessions, cfg.KeepOpen = int64(b.N), 4, true
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := Run(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
}
