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
	lean220  = []byte("220 lean\r\n")
	lean250  = []byte("250 ok\r\n")
	lean354  = []byte("354 go\r\n")
	lean221  = []byte("221 bye\r\n")
	leanEHLO = []byte("250-lean\r\n250-PIPELINING\r\n250-CHUNKING\r\n" +
		"250 SIZE\r\n")
)

// leanSession answers one connection. It speaks PIPELINING (answering
// line by line is enough for that) and CHUNKING.
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
		case bytes.HasPrefix(line, []byte("EHLO")):
			c.Write(leanEHLO)
		case bytes.HasPrefix(line, []byte("BDAT ")):
			if !leanChunk(br, line) {
				return
			}
			c.Write(lean250)
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

// leanChunk skips the chunk of a "BDAT n [LAST]" line.
func leanChunk(br *bufio.Reader, line []byte) bool {
	n := 0
	for _, c := range line[len("BDAT "):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	_, err := br.Discard(n)
	return err == nil
}

// realGen is smtp-source's default message, built as the command does.
func realGen(t testing.TB) Generator {
	return realGenWith(t, func(*message.Config) {})
}

func realGenWith(t testing.TB, edit func(*message.Config)) Generator {
	cfg := message.Config{
		Hostname: "client.example.com", Sender: "s@example.com",
		Recipient: "r@example.com", RcptCount: 1, PID: 1,
	}
	edit(&cfg)
	g, err := message.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Sending over a reused session allocates nothing per message once the
// session is set up: the budget below is for the run's fixed costs.
func TestNoAllocationsPerMessage(t *testing.T) {
	noAllocations(t, func(*Config) {})
}

// The same holds pipelined, with BDAT, and with the stamp headers
// (--unique-headers), whose send time is formatted per message.
func TestNoAllocationsPerMessagePipelined(t *testing.T) {
	variants := map[string]func(*Config){
		"pipelining": func(c *Config) { c.Pipelining = true },
		"chunking": func(c *Config) {
			c.Pipelining, c.Chunking, c.ChunkSize = true, true, 64
		},
		"stamp": func(c *Config) {
			c.Pipelining = true
			c.Gen = realGenWith(t, func(m *message.Config) {
				m.Stamp, m.RunID = true, "alloc-test"
			})
		},
	}
	for name, edit := range variants {
		t.Run(name, func(t *testing.T) { noAllocations(t, edit) })
	}
}

// noAllocations runs the load with edit applied and fails the test if
// messages cost allocations.
func noAllocations(t *testing.T, edit func(*Config)) {
	ln := lean(t)
	run := func(m int64) uint64 {
		cfg := config(&server{ln: ln})
		cfg.Gen = realGen(t)
		cfg.Messages, cfg.Sessions, cfg.KeepOpen = m, 2, true
		edit(&cfg)
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
