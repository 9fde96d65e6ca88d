package load

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// startSink runs go-smtp-sink in-process with cfg, dumping every
// message into a file of its own under the returned directory.
func startSink(t *testing.T, cfg sink.Config) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg.Dump.PerMessage = filepath.Join(dir, "msg.")
	_, addr := sinktest.Start(t, cfg)
	return addr, dir
}

// dumped returns the contents of the messages the sink dumped: what
// follows the three lines of its Received: header, without CRs and
// with one more LF (the one of the final dot's line with DATA).
func dumped(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "msg.*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, content, ok := strings.Cut(string(b), "\nReceived: from ")
		for i := 0; ok && i < 3; i++ {
			_, content, ok = strings.Cut(content, "\n")
		}
		if !ok {
			t.Fatalf("%s: no Received: header:\n%s", f, b)
		}
		out = append(out, content)
	}
	return out
}

// A message file with lines that start with dots: DATA stuffs them,
// BDAT must not.
const dotty = "Subject: dots\n\n.one dot\n..two dots\n.\nend\n"

func chunkRun(t *testing.T, addr string, w *writes, size int,
	pipelining bool) Result {

	t.Helper()
	cfg := chunkConfig(t, addr, w)
	cfg.ChunkSize, cfg.Pipelining = size, pipelining
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// BDAT carries the message as it is, in chunks of the size asked for;
// the sink's dumps show the file, dots and all.
func TestChunking(t *testing.T) {
	cases := []struct {
		name       string
		size       int
		pipelining bool
		writes     int // per message
	}{
		{"one chunk, lock step", 0, false, 3},     // MAIL RCPT BDAT
		{"chunks of 10, lock step", 10, false, 7}, // 5 chunks
		{"chunks of 10, pipelined", 10, true, 1},
		{"one chunk, pipelined", 0, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, dir := startSink(t, sink.Config{Chunking: true,
				NoPipelining: !tc.pipelining})
			w := &writes{}
			res := chunkRun(t, addr, w, tc.size, tc.pipelining)
			if res.Accepted != 3 {
				t.Fatalf("accepted %d, want 3", res.Accepted)
			}
			for _, got := range dumped(t, dir) {
				if got != dotty+"\n" {
					t.Errorf("dumped content %q, want %q", got, dotty)
				}
			}
			// EHLO, the messages, QUIT.
			if n := len(w.get()); n != 2+3*tc.writes {
				t.Errorf("%d writes, want %d: %q", n, 2+3*tc.writes,
					w.get())
			}
			for _, wr := range w.get() {
				if strings.HasPrefix(wr, "DATA") ||
					strings.Contains(wr, "\r\nDATA\r\n") {
					t.Errorf("DATA sent with CHUNKING: %q", wr)
				}
			}
		})
	}
}

// Without CHUNKING advertised, --chunking falls back to DATA.
func TestChunkingNotAdvertised(t *testing.T) {
	addr, dir := startSink(t, sink.Config{})
	w := &writes{}
	if res := chunkRun(t, addr, w, 0, false); res.Accepted != 3 {
		t.Fatalf("accepted %d, want 3", res.Accepted)
	}
	if got := dumped(t, dir); len(got) != 3 || got[0] != dotty+"\n" {
		t.Errorf("dumps %q, want 3 of %q", got, dotty)
	}
	if ws := w.get(); len(ws) < 4 || ws[3] != "DATA\r\n" {
		t.Errorf("writes %q, want DATA after MAIL and RCPT", ws)
	}
}

// A refused chunk ends the message: no more chunks, and RSET clears the
// transaction before the next one (RFC 3030 section 2).
func TestChunkRefused(t *testing.T) {
	fault, err := sink.ParseFault("bdat:100%:554 5.6.0 chunk refused")
	if err != nil {
		t.Fatal(err)
	}
	for _, pipelining := range []bool{false, true} {
		addr, _ := startSink(t, sink.Config{Chunking: true,
			NoPipelining: !pipelining, Faults: []sink.Fault{fault}})
		w := &writes{}
		cfg := chunkConfig(t, addr, w)
		cfg.Pipelining, cfg.AllowReject, cfg.Messages = pipelining, true, 2
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 2 {
			t.Errorf("pipelining %v: failed %d, want 2", pipelining,
				res.Failed)
		}
		bdats, rsets := 0, 0
		for _, wr := range w.get() {
			bdats += strings.Count(wr, "BDAT ")
			rsets += strings.Count(wr, "RSET\r\n")
		}
		// Lock step stops after the first chunk; pipelined, all five
		// went out before the first reply.
		want := 2
		if pipelining {
			want = 10
		}
		if bdats != want || rsets != 2 {
			t.Errorf("pipelining %v: %d BDAT, %d RSET, want %d and 2: %q",
				pipelining, bdats, rsets, want, w.get())
		}
	}
}

func chunkConfig(t *testing.T, addr string, w *writes) Config {
	t.Helper()
	gen, err := message.New(message.Config{
		Hostname: "vm", Sender: "foo@vm", Recipient: "rcpt@example.com",
		RcptCount: 1, File: []byte(dotty), HasFile: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	return Config{
		Dial: func(ctx context.Context) (net.Conn, error) {
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return &recConn{Conn: nc, w: w}, nil
		},
		Gen: gen, Messages: 3, Sessions: 1, Recipients: 1,
		Hostname: "vm", KeepOpen: true, Chunking: true, ChunkSize: 10,
	}
}
