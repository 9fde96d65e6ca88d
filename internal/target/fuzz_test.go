package target

import (
	"net/netip"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{"[::1]:25", "::1:2525", ":::1", "unix:/x", "sink:",
		"a:b:c", "[IPv6:::1]", "[1:2:3:4:5:6:1.2.3.4]:1", "0x7f.1",
		"127.0.0.1", "localhost:smtp", ":25", "[]:", "inet:"}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, listen := range []bool{false, true} {
			tg, err := parse(s, listen)
			if err != nil || tg.Kind != TCP {
				continue
			}
			if tg.Port == "" || tg.Host == "" && !listen {
				t.Errorf("parse(%q, %v) = %+v: missing host or port",
					s, listen, tg)
			}
		}

		// A dotted quad that Go reads (no leading zeros) must read
		// the same through inet_aton.
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			got, ok := parseInetAton(s)
			if !ok || got != ip {
				t.Errorf("parseInetAton(%q) = %v, %v; want %v", s, got,
					ok, ip)
			}
		}
	})
}
