package target

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// long is a 108-byte path, one byte too many for sun_path.
var long = strings.Repeat("a", maxUnixPath)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Target // Raw is filled in from in
	}{
		{"mx.example", Target{Host: "mx.example", Port: "smtp"}},
		{"mx.example:", Target{Host: "mx.example", Port: "smtp"}},
		{"mx.example:2525", Target{Host: "mx.example", Port: "2525"}},
		{"mx.example:submission",
			Target{Host: "mx.example", Port: "submission"}},
		{"[mx.example]", Target{Host: "mx.example", Port: "smtp"}},
		{"[mx.example]:", Target{Host: "mx.example", Port: "smtp"}},
		{"[mx.example]:26", Target{Host: "mx.example", Port: "26"}},
		{"127.0.0.1:25", Target{Host: "127.0.0.1", Port: "25"}},
		{"[::1]:2525", Target{Host: "::1", Port: "2525"}},
		{"[IPv6:::1]:2525", Target{Host: "::1", Port: "2525"}},
		{"[ipv6:2001:db8::1]", Target{Host: "2001:db8::1", Port: "smtp"}},

		// host_port splits at the last colon, so a bare IPv6 address
		// needs a port after it: "::1" alone is host ":" port "1".
		{"::1:2525", Target{Host: "::1", Port: "2525"}},
		{"::1:", Target{Host: "::1", Port: "smtp"}},
		{":::1", Target{Host: "::", Port: "1"}},

		{"inet:mx.example:25", Target{Host: "mx.example", Port: "25"}},
		{"inet:[::1]", Target{Host: "::1", Port: "smtp"}},

		// Ports are checked only for a leading digit; getaddrinfo
		// judges the rest.
		{"localhost:+25", Target{Host: "localhost", Port: "+25"}},
		{"localhost:-1", Target{Host: "localhost", Port: "-1"}},
		{"localhost:99999", Target{Host: "localhost", Port: "99999"}},

		// Names Postfix lets through, wrong as they may look.
		{"a_b", Target{Host: "a_b", Port: "smtp"}},
		{"a--b", Target{Host: "a--b", Port: "smtp"}},
		{"0x7f.0.0.1", Target{Host: "0x7f.0.0.1", Port: "smtp"}},
		{"127.0.0.010", Target{Host: "127.0.0.010", Port: "smtp"}},
		{"[1:2:3]:1", Target{Host: "1:2:3", Port: "1"}},
		{"[a]:b:c", Target{Host: "a", Port: "b:c"}},
		{"inet:sink:", Target{Host: "sink", Port: "smtp"}},

		{"unix:/run/smtpd.sock",
			Target{Kind: Unix, Path: "/run/smtpd.sock"}},
		{"unix:", Target{Kind: Unix}},
		{"unix:" + long[1:], Target{Kind: Unix, Path: long[1:]}},
		{"sink:", Target{Kind: Sink}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `: missing host information`},
		{"inet:", `: missing host information`},
		{":", `:: missing host information`},
		{":25", `:25: missing host information`},
		{"[::1", `[::1: missing "]"`},
		{"inet:[::1", `[::1: missing "]"`},
		{"[::1]x", `[::1]x: garbage after "]"`},
		{"[IPv6:zz]:1", `[IPv6:zz]:1: malformed IPv6 address`},
		{"[ipv6:1.2.3.4]:1", `[ipv6:1.2.3.4]:1: malformed IPv6 address`},
		{"[]:25", `[]:25: valid hostname or network address required`},
		{"host:port:extra",
			`host:port:extra: valid hostname or network address required`},
		{"::1", `::1: valid hostname or network address required`},
		{"::", `::: valid hostname or network address required`},
		{"a b", `a b: valid hostname or network address required`},
		{"loc@lhost",
			`loc@lhost: valid hostname or network address required`},
		{"[fe80::1%lo]:1",
			`[fe80::1%lo]:1: valid hostname or network address required`},
		{"1.2.3.4.5",
			`1.2.3.4.5: valid hostname or network address required`},
		{"INET:localhost:1",
			`INET:localhost:1: valid hostname or network address required`},
		{"localhost:25x", `localhost:25x: garbage after numerical service`},
		{"localhost:0x19",
			`localhost:0x19: garbage after numerical service`},
		{"localhost:1 ", `localhost:1 : garbage after numerical service`},
		{"unix:" + long, "unix-domain name too long: " + long},
		{"sink:x", `sink:x: unexpected text after "sink:"`},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want error %q", c.in, got, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Parse(%q) error %q, want %q", c.in, err, c.want)
		}
	}
}

func TestParseListen(t *testing.T) {
	cases := []struct {
		in   string
		want Target // Raw is filled in from in
	}{
		{":2525", Target{Port: "2525"}},
		{"2525", Target{Port: "2525"}},
		{"inet::2525", Target{Port: "2525"}},
		{"127.0.0.1:2525", Target{Host: "127.0.0.1", Port: "2525"}},
		{"[::1]:2525", Target{Host: "::1", Port: "2525"}},
		{"[::]:smtp", Target{Host: "::", Port: "smtp"}},
		{"localhost:smtp", Target{Host: "localhost", Port: "smtp"}},
		{"::1:2525", Target{Host: "::1", Port: "2525"}},
		{"unix:/tmp/sink.sock", Target{Kind: Unix, Path: "/tmp/sink.sock"}},
	}
	for _, c := range cases {
		got, err := ParseListen(c.in)
		if err != nil {
			t.Errorf("ParseListen(%q): %v", c.in, err)
			continue
		}
		c.want.Raw = c.in
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParseListen(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestParseListenErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `: missing service information`},
		{":", `:: missing service information`},
		{"localhost:", `localhost:: missing service information`},
		{"[::1]", `[::1]: missing service information`},
		{"[::1]:", `[::1]:: missing service information`},
		{"sink:", `sink:: missing service information`},
		{"[::1", `[::1: missing "]"`},
		{"[]:25", `[]:25: valid hostname or network address required`},
		{"::1", `::1: valid hostname or network address required`},
		{"a:b:c", `a:b:c: valid hostname or network address required`},
		{":25x", `:25x: garbage after numerical service`},
		{"unix:" + long, "unix-domain name too long: " + long},
	}
	for _, c := range cases {
		got, err := ParseListen(c.in)
		if err == nil {
			t.Errorf("ParseListen(%q) = %+v, want error %q",
				c.in, got, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("ParseListen(%q) error %q, want %q",
				c.in, err, c.want)
		}
	}
}

func TestValidHostname(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"mail.example.com", true},
		{"a_b", true},
		{"_", true},
		{"a--b", true},
		{"1a", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("a.", 127) + "a", true}, // 255 bytes
		{strings.Repeat("a.", 127) + "ab", false},
		{"", false},
		{"123", false},
		{"1.2.3", false},
		{"a-", false},
		{"-a", false},
		{"a.-b", false},
		{"a-.b", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"a b", false},
		{"ünï", false},
	}
	for _, c := range cases {
		if got := validHostname(c.in); got != c.want {
			t.Errorf("validHostname(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestValidHostAddr(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1", true},
		{"0.0.0.0", true},
		{"01.2.3.4", true},
		{"1.2.3.04", true},
		{"0.1.2.3", false},
		{"256.1.1.1", false},
		{"1.2.3", false},
		{"1.2.3.4.", false},
		{"1..2.3", false},
		{"::", true},
		{"::1", true},
		{"1::", true},
		{"1:2:3:4:5:6:7:8", true},
		{"1:2:3", true}, // shape only: the resolver rejects it
		{"::ffff:127.0.0.1", true},
		{"1:2:3:4:5:6:1.2.3.4", true},
		{"1:2:3:4:5:6:7:1.2.3.4", false},
		{"1:2:3:4:5:6:7:8:9", false},
		{"1:2:3:4:5:6:7::", false},
		{"::1:2:3:4:5:6:7", false},
		{"1::2::3", false},
		{":1::1", false},
		{"1::1:", false},
		{"00001::1", false},
		{"1:2", false},
		{"fe80::1%lo", false},
		{"", false},
	}
	for _, c := range cases {
		if got := validHostAddr(c.in); got != c.want {
			t.Errorf("validHostAddr(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
