package target

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// listen parses endpoint and listens on it, closing it after the test.
func listen(t *testing.T, endpoint string, f Family,
	window int) (net.Listener, error) {

	t.Helper()
	tg, err := ParseListen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(context.Background(), tg, f, 5, window)
	if err == nil {
		t.Cleanup(func() { ln.Close() })
	}
	return ln, err
}

func TestListenTCP(t *testing.T) {
	ln, err := listen(t, "127.0.0.1:0", AnyFamily, 32768)
	if err != nil {
		t.Fatal(err)
	}
	sc := ln.(syscall.Conn)
	if got := sockopt(t, sc, unix.SOL_SOCKET, unix.SO_REUSEPORT); got != 1 {
		t.Errorf("SO_REUSEPORT = %d, want 1", got)
	}
	// TCP, as smtp-sink listens, not Go's default Multipath TCP.
	got := sockopt(t, sc, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if got != unix.IPPROTO_TCP {
		t.Errorf("SO_PROTOCOL = %d, want IPPROTO_TCP (%d)", got,
			unix.IPPROTO_TCP)
	}

	// Accepted connections inherit the listener's -T buffers.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer := accept(t, ln).(syscall.Conn)
	for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
		if got := sockopt(t, peer, unix.SOL_SOCKET, opt); got != 65536 {
			t.Errorf("accepted buffer option %d = %d, want 65536", opt, got)
		}
	}
	if got := sockopt(t, peer, unix.SOL_SOCKET, unix.SO_KEEPALIVE); got != 0 {
		t.Errorf("accepted SO_KEEPALIVE = %d, want 0", got)
	}
}

func TestListenAllInterfaces(t *testing.T) {
	cases := []struct {
		f        Family
		wantAddr string
		v6only   bool
	}{
		{AnyFamily, "0.0.0.0", false},
		{IPv4, "0.0.0.0", false},
		{IPv6, "::", true},
	}
	for _, c := range cases {
		ln, err := listen(t, ":0", c.f, 0)
		if err != nil {
			if c.f == IPv6 {
				t.Skipf("no IPv6: %v", err)
			}
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		if got := addr.IP.String(); got != c.wantAddr {
			t.Errorf("Listen(:0, %d) on %s, want %s", c.f, got, c.wantAddr)
		}
		if c.v6only {
			got := sockopt(t, ln.(syscall.Conn), unix.IPPROTO_IPV6,
				unix.IPV6_V6ONLY)
			if got != 1 {
				t.Errorf("IPV6_V6ONLY = %d, want 1", got)
			}
		}
		ln.Close()
	}
}

func TestListenReusePort(t *testing.T) {
	// Like Postfix 3.7's smtp-sink, two of ours share a port...
	first, err := listen(t, "127.0.0.1:0", AnyFamily, 0)
	if err != nil {
		t.Fatal(err)
	}
	port := first.Addr().(*net.TCPAddr).Port
	endpoint := fmt.Sprintf("127.0.0.1:%d", port)
	if _, err := listen(t, endpoint, AnyFamily, 0); err != nil {
		t.Errorf("second listener on %s: %v", endpoint, err)
	}

	// ...but not a port held without SO_REUSEPORT.
	other := listenLoopback(t, "tcp4", "127.0.0.1:0")
	port = other.Addr().(*net.TCPAddr).Port
	_, err = listen(t, fmt.Sprintf("127.0.0.1:%d", port), AnyFamily, 0)
	want := fmt.Sprintf("bind 127.0.0.1 port %d: Address already in use",
		port)
	if err == nil || err.Error() != want {
		t.Errorf("Listen on a taken port: %v, want %q", err, want)
	}
}

func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sink")

	// Whatever is at the path goes, as with smtp-sink.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := listen(t, "unix:"+path, IPv6, 32768)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want a socket with 0666", fi.Mode())
	}

	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	accept(t, ln)
}

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ endpoint, want string }{
		{"unix:" + dir, "remove " + dir + ": Is a directory"},
		{"unix:" + dir + "/none/sink",
			"bind: " + dir + "/none/sink: No such file or directory"},
		{"unix:", "chmod socket : No such file or directory"},
		{"[::1]:0", "[::1]:0: Address family for hostname not supported"},
		{"nosuchsvc", "nosuchsvc: Servname not supported for ai_socktype"},
	}
	for _, c := range cases {
		tg, err := ParseListen(c.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := Listen(context.Background(), tg, IPv4, 5, 0)
		if err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded", c.endpoint)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Listen(%q): %q, want %q", c.endpoint, err, c.want)
		}
	}

	sink := Target{Kind: Sink, Raw: "sink:"}
	ln, err := Listen(context.Background(), sink, AnyFamily, 5, 0)
	if err == nil {
		ln.Close()
		t.Error("Listen(sink:) succeeded")
	}
}
