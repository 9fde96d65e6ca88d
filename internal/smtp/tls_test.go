package smtp

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// flightConn counts round trips: the reads that follow a write, each
// of which waits for the peer's answer to what was written.
type flightConn struct {
	net.Conn
	mu      sync.Mutex
	wrote   bool
	flights int
}

func (c *flightConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.wrote = true
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *flightConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.wrote {
		c.flights++
		c.wrote = false
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

func (c *flightConn) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.flights
	c.flights, c.wrote = 0, false
	return n
}

// startImplicitTLSSink runs go-smtp-sink in-process with implicit TLS.
func startImplicitTLSSink(t *testing.T) string {
	t.Helper()
	tc, err := sink.TLSConfig("", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := sinktest.Start(t, sink.Config{TLS: tc,
		ImplicitTLS: true})
	return addr
}

// TestResumptionRoundTrips: with a session cache, as --tls-resume
// shares between sessions, a second session's handshake resumes the
// first's and waits for one round trip, where a full TLS 1.2 handshake
// waits for two. So implicit TLS with resumption costs one round trip
// more than plain text, whatever the version.
func TestResumptionRoundTrips(t *testing.T) {
	addr := startImplicitTLSSink(t)
	tests := []struct {
		version     uint16
		full, again int // round trips of the first and second handshake
	}{
		{tls.VersionTLS12, 2, 1},
		{tls.VersionTLS13, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tls.VersionName(tt.version), func(t *testing.T) {
			cfg := &tls.Config{InsecureSkipVerify: true,
				MaxVersion:         tt.version,
				ClientSessionCache: tls.NewLRUClientSessionCache(0)}
			for i, want := range []int{tt.full, tt.again} {
				flights, st := implicitSession(t, addr, cfg)
				if st.DidResume != (i > 0) || flights != want {
					t.Errorf("session %d: resumed %v in %d round "+
						"trips, want %v in %d", i+1, st.DidResume,
						flights, i > 0, want)
				}
			}
		})
	}
}

// implicitSession runs one implicit-TLS session to addr and returns
// the round trips of its handshake and the connection's TLS state.
func implicitSession(t *testing.T, addr string,
	cfg *tls.Config) (int, tls.ConnectionState) {

	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fc := &flightConn{Conn: nc}
	c := NewConn(fc, &Options{ReplyTimeout: 5 * time.Second,
		TLSTimeout: 5 * time.Second, BannerTimeout: 5 * time.Second})
	defer c.Close()

	if err := c.Handshake(cfg); err != nil {
		t.Fatal(err)
	}
	flights := fc.take()
	st, _ := c.TLSState()

	// The banner and QUIT read what the server sent after the
	// handshake, TLS 1.3's session ticket among it.
	if r, err := c.Banner(); err != nil || r.Code != 220 {
		t.Fatalf("banner %d, %v", r.Code, err)
	}
	c.Quit()
	return flights, st
}
