package target

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// fakeResolver answers lookupNetIP from a table, for the duration of
// a test, so that no test depends on DNS.
func fakeResolver(t *testing.T, answers map[string][]netip.Addr) {
	t.Helper()
	saved := lookupNetIP
	t.Cleanup(func() { lookupNetIP = saved })

	lookupNetIP = func(_ context.Context, network, host string) (
		[]netip.Addr, error) {

		var ips []netip.Addr
		for _, ip := range answers[host] {
			switch {
			case network == "ip4" && ip.Is4(), network == "ip6" && ip.Is6(),
				network == "ip":
				ips = append(ips, ip)
			}
		}
		switch {
		case answers[host] == nil:
			return nil, &net.DNSError{Err: "no such host", Name: host,
				IsNotFound: true}
		case len(ips) == 0:
			return nil, &net.AddrError{Err: "no suitable address found",
				Addr: host}
		}
		return ips, nil
	}
}

func TestResolve(t *testing.T) {
	fakeResolver(t, map[string][]netip.Addr{
		"dual.test": {
			netip.MustParseAddr("::1"),
			netip.MustParseAddr("127.0.0.2"),
		},
		"v4.test": {netip.MustParseAddr("::ffff:127.0.0.3")},
	})
	cases := []struct {
		in   string
		f    Family
		want string
	}{
		{"127.0.0.1:2525", AnyFamily, "127.0.0.1:2525"},
		{"127.0.0.1", AnyFamily, "127.0.0.1:25"},
		{"127.0.0.1:submission", AnyFamily, "127.0.0.1:587"},
		{"[::1]:2525", AnyFamily, "[::1]:2525"},
		{"::1:2525", IPv6, "[::1]:2525"},
		{"[::ffff:127.0.0.1]:1", AnyFamily, "127.0.0.1:1"},

		// Only the first address counts.
		{"dual.test:1", AnyFamily, "[::1]:1"},
		{"dual.test:1", IPv4, "127.0.0.2:1"},
		{"dual.test:1", IPv6, "[::1]:1"},
		{"v4.test:1", AnyFamily, "127.0.0.3:1"},

		// glibc reads numeric hosts with inet_aton(3).
		{"127.0.0.010:1", AnyFamily, "127.0.0.8:1"},
		{"0x7f.0.0.1:1", AnyFamily, "127.0.0.1:1"},
		{"0x7F.0.0.0xff:1", AnyFamily, "127.0.0.255:1"},

		// and numeric services as strtoul(3) and a 16-bit port.
		{"127.0.0.1:65536", AnyFamily, "127.0.0.1:0"},
		{"127.0.0.1:99999", AnyFamily, "127.0.0.1:34463"},
		{"127.0.0.1:4294967296", AnyFamily, "127.0.0.1:0"},
		{"127.0.0.1:025", AnyFamily, "127.0.0.1:25"},
		{"127.0.0.1:+25", AnyFamily, "127.0.0.1:25"},
		{"127.0.0.1:-0", AnyFamily, "127.0.0.1:0"},
		{"127.0.0.1:-4294967295", AnyFamily, "127.0.0.1:1"},
	}
	for _, c := range cases {
		tg, err := Parse(c.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		addr, err := tg.Resolve(context.Background(), c.f)
		if err != nil {
			t.Errorf("Resolve(%q, %d): %v", c.in, c.f, err)
			continue
		}
		if got := addr.String(); got != c.want {
			t.Errorf("Resolve(%q, %d) = %s, want %s", c.in, c.f, got,
				c.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	fakeResolver(t, map[string][]netip.Addr{
		"v4.test": {netip.MustParseAddr("127.0.0.3")},
	})
	cases := []struct {
		in   string
		f    Family
		want string
	}{
		{"nosuchhost.invalid:25", AnyFamily,
			"nosuchhost.invalid:25: Name or service not known"},
		{"inet:nosuch.invalid", AnyFamily,
			"nosuch.invalid: Name or service not known"},
		{"v4.test:1", IPv6, "v4.test:1: Name or service not known"},
		{"127.0.0.1:nosuchsvc", AnyFamily,
			"127.0.0.1:nosuchsvc: Servname not supported for ai_socktype"},
		{"127.0.0.1:SMTP", AnyFamily,
			"127.0.0.1:SMTP: Servname not supported for ai_socktype"},
		{"127.0.0.1:-1", AnyFamily,
			"127.0.0.1:-1: Servname not supported for ai_socktype"},
		{"127.0.0.1:+", AnyFamily,
			"127.0.0.1:+: Servname not supported for ai_socktype"},
		{"127.0.0.1:4294967295", AnyFamily,
			"127.0.0.1:4294967295: Servname not supported for ai_socktype"},
		{"127.0.0.1:2147483648", AnyFamily,
			"127.0.0.1:2147483648: Servname not supported for ai_socktype"},
		{"127.0.0.1:1", IPv6,
			"127.0.0.1:1: Address family for hostname not supported"},
		{"[::1]:1", IPv4,
			"[::1]:1: Address family for hostname not supported"},

		// The service is checked before the host.
		{"nosuch.invalid:nosuchsvc", AnyFamily,
			"nosuch.invalid:nosuchsvc: " +
				"Servname not supported for ai_socktype"},
		{"[::1]:nosuchsvc", IPv4,
			"[::1]:nosuchsvc: Servname not supported for ai_socktype"},

		// Numbers inet_aton(3) refuses are names to look up.
		{"127.0.0.09:1", AnyFamily, "127.0.0.09:1: Name or service not known"},
		{"[1:2:3]:1", AnyFamily, "[1:2:3]:1: Name or service not known"},
		{"sink:x", AnyFamily, `sink:x: unexpected text after "sink:"`},
	}
	for _, c := range cases {
		tg, err := Parse(c.in)
		if err == nil {
			_, err = tg.Resolve(context.Background(), c.f)
		}
		if err == nil {
			t.Errorf("Resolve(%q, %d) succeeded, want %q", c.in, c.f, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Resolve(%q, %d) error %q, want %q", c.in, c.f, err,
				c.want)
		}
	}
}

func TestResolveKeepsCause(t *testing.T) {
	cause := &net.DNSError{Err: "server misbehaving", Name: "x.test",
		IsTemporary: true}
	saved := lookupNetIP
	t.Cleanup(func() { lookupNetIP = saved })
	lookupNetIP = func(context.Context, string, string) ([]netip.Addr, error) {
		return nil, cause
	}

	_, err := Target{Host: "x.test", Port: "25", Raw: "x.test"}.Resolve(
		context.Background(), AnyFamily)
	if want := "x.test: Temporary failure in name resolution"; err == nil ||
		err.Error() != want {
		t.Fatalf("Resolve error %v, want %q", err, want)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || dnsErr != cause {
		t.Errorf("Resolve error does not wrap the resolver's error")
	}
}

func TestResolveListen(t *testing.T) {
	cases := []struct {
		in   string
		f    Family
		want string
	}{
		{":2525", AnyFamily, "0.0.0.0:2525"},
		{"2525", IPv4, "0.0.0.0:2525"},
		{":2525", IPv6, "[::]:2525"},
		{"[::1]:2525", AnyFamily, "[::1]:2525"},
	}
	for _, c := range cases {
		tg, err := ParseListen(c.in)
		if err != nil {
			t.Fatalf("ParseListen(%q): %v", c.in, err)
		}
		addr, err := tg.Resolve(context.Background(), c.f)
		if err != nil {
			t.Errorf("Resolve(%q, %d): %v", c.in, c.f, err)
			continue
		}
		if got := addr.String(); got != c.want {
			t.Errorf("Resolve(%q, %d) = %s, want %s", c.in, c.f, got,
				c.want)
		}
	}
}

func TestResolveOther(t *testing.T) {
	tg, _ := Parse("unix:/run/x.sock")
	addr, err := tg.Resolve(context.Background(), IPv4)
	if err != nil || addr.Network() != "unix" ||
		addr.String() != "/run/x.sock" {
		t.Errorf("Resolve(unix:/run/x.sock) = %v, %v", addr, err)
	}

	tg, _ = Parse("sink:")
	if addr, err := tg.Resolve(context.Background(), AnyFamily); err == nil {
		t.Errorf("Resolve(sink:) = %v, want an error", addr)
	}
}

func TestParseInetAton(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" when refused
	}{
		{"1.2.3.4", "1.2.3.4"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"1.2.300", "1.2.1.44"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"256.1", ""},
		{"1.2.3.4.5", ""},
		{"08.1.1.1", ""},
		{"0x", ""},
		{"0xg", ""},
		{"1.2.3.", ""},
		{".1", ""},
		{"1..2", ""},
		{"1.2.3.4 ", ""},
		{"a.b", ""},
		{"", ""},
	}
	for _, c := range cases {
		ip, ok := parseInetAton(c.in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != c.want {
			t.Errorf("parseInetAton(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
