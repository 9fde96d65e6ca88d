package target

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
)

// Family restricts name resolution to one address family, as the -4
// and -6 options do.
type Family int

// The address families.
const (
	AnyFamily Family = iota // IPv4 and IPv6, the default
	IPv4                    // IPv4 only (-4)
	IPv6                    // IPv6 only (-6)
)

// gaiError is a getaddrinfo(3) failure, worded as glibc's
// gai_strerror(3) words it, since that is what Postfix prints.
type gaiError string

func (e gaiError) Error() string { return string(e) }

// The getaddrinfo(3) failures we report.
const (
	eaiNoName  gaiError = "Name or service not known"
	eaiService gaiError = "Servname not supported for ai_socktype"
	eaiFamily  gaiError = "Address family for hostname not supported"
	eaiAgain   gaiError = "Temporary failure in name resolution"
	eaiFail    gaiError = "Non-recoverable failure in name resolution"
)

// Endpoints that Resolve cannot turn into an address.
var (
	errSinkAddr    = errors.New("the built-in sink has no address")
	errUnknownKind = errors.New("unknown kind of endpoint")
)

// causedError reads as its reason but also wraps the underlying cause,
// so that the text stays Postfix's and errors.Is still sees the cause.
type causedError struct{ reason, cause error }

func (e *causedError) Error() string { return e.reason.Error() }

func (e *causedError) Unwrap() []error { return []error{e.reason, e.cause} }

// lookupNetIP resolves host names. Tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// Resolve returns the address to connect to or listen on: a
// *net.TCPAddr for TCP, a *net.UnixAddr for Unix. Like Postfix it
// resolves once and keeps only the first address returned, with no
// fallback to the others. An empty Host (listen side) is the wildcard
// address, 0.0.0.0 unless f is IPv6.
//
// Errors read as Postfix's, "ENDPOINT: Name or service not known", and
// wrap the resolver's own error where there is one.
func (t Target) Resolve(ctx context.Context, f Family) (net.Addr, error) {
	switch t.Kind {
	case TCP:
	case Unix:
		return &net.UnixAddr{Name: t.Path, Net: "unix"}, nil
	case Sink:
		return nil, &endpointError{endpoint: t.Raw, err: errSinkAddr}
	default:
		return nil, &endpointError{endpoint: t.Raw, err: errUnknownKind}
	}

	// getaddrinfo(3) checks the service before the host.
	port, err := lookupPort(ctx, t.Port)
	if err != nil {
		return nil, &endpointError{endpointName(t.Raw), err}
	}
	ip, err := lookupHost(ctx, t.Host, f)
	if err != nil {
		return nil, &endpointError{endpointName(t.Raw), err}
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, port)), nil
}

// lookupPort reads a service the way glibc's getaddrinfo(3) does. A
// service that strtoul(3) reads whole is a number: its low 32 bits, if
// not negative as an int, give the port modulo 65536, so "65536" is
// port 0 and "+25" is 25. Anything else, "-1" included, is looked up
// by name.
func lookupPort(ctx context.Context, service string) (uint16, error) {
	if n, ok := strtoul(service); ok && int32(uint32(n)) >= 0 {
		return uint16(n), nil
	}

	// glibc's getservbyname(3) is case-sensitive and knows no service
	// named like a number. Go's LookupPort ignores case and reads
	// numbers itself ("+" is port 0 to it), so refuse those here.
	unsigned := strings.TrimPrefix(strings.TrimPrefix(service, "+"), "-")
	if service != strings.ToLower(service) ||
		unsigned == "" || allDigits(unsigned) {
		return 0, eaiService
	}
	port, err := net.DefaultResolver.LookupPort(ctx, "tcp", service)
	if err != nil || port < 0 || port > 0xffff {
		return 0, eaiService
	}
	return uint16(port), nil
}

// strtoul reads s as a whole as C's strtoul(s, &end, 10) with *end
// == 0: optional leading white space, an optional sign, and decimal
// digits. Like C, it negates modulo 2^64 and saturates on overflow.
func strtoul(s string) (uint64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !allDigits(s) {
		return 0, false
	}

	const ulongMax = ^uint64(0)
	var n uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if n > (ulongMax-d)/10 {
			return ulongMax, true
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// lookupHost resolves host as glibc's getaddrinfo(3) does: a number
// in inet_aton(3) form, then an IPv6 address, then a name. An address
// of the wrong family is an error, not a lookup.
func lookupHost(ctx context.Context, host string,
	f Family) (netip.Addr, error) {

	if host == "" {
		if f == IPv6 {
			return netip.IPv6Unspecified(), nil
		}
		return netip.IPv4Unspecified(), nil
	}

	if ip, ok := parseInetAton(host); ok {
		if f == IPv6 {
			return netip.Addr{}, eaiFamily
		}
		return ip, nil
	}
	if strings.IndexByte(host, ':') >= 0 {
		if ip, err := netip.ParseAddr(host); err == nil {
			if f == IPv4 {
				return netip.Addr{}, eaiFamily
			}
			return ip, nil
		}
	}

	network := "ip"
	switch f {
	case IPv4:
		network = "ip4"
	case IPv6:
		network = "ip6"
	}
	// TODO: glibc sorts every answer by RFC 6724 before we take the
	// first; Go's own resolver sorts DNS answers but not /etc/hosts
	// ones, so a name listed there for both families may start with
	// a different address than under Postfix.
	ips, err := lookupNetIP(ctx, network, host)
	if err != nil {
		return netip.Addr{}, &causedError{resolverReason(err), err}
	}
	if len(ips) == 0 {
		return netip.Addr{}, eaiNoName
	}
	return ips[0].Unmap(), nil
}

// resolverReason maps an error from Go's resolver to the getaddrinfo(3)
// failure glibc would most likely have reported.
func resolverReason(err error) gaiError {
	var dnsErr *net.DNSError
	var addrErr *net.AddrError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// TODO: glibc says "No address associated with hostname" for
		// a name that exists without addresses; Go does not tell
		// that case apart from a missing name.
		return eaiNoName
	case errors.As(err, &addrErr):
		// Go found only addresses of the other family.
		return eaiNoName
	case errors.As(err, &dnsErr) && (dnsErr.IsTimeout || dnsErr.IsTemporary),
		errors.Is(err, context.DeadlineExceeded):
		return eaiAgain
	}
	return eaiFail
}

// parseInetAton reads s as glibc's inet_aton(3), which getaddrinfo(3)
// tries before a name: one to four numbers separated by dots, each
// decimal, octal after a leading 0, or hex after 0x, the last filling
// the remaining bytes. So "127.0.0.010" is 127.0.0.8 and "0x7f.0.0.1"
// is 127.0.0.1, both of which host_port(3) lets through.
func parseInetAton(s string) (netip.Addr, bool) {
	var b [4]byte
	n := 0
	for {
		v, rest, ok := parseCNumber(s)
		if !ok {
			return netip.Addr{}, false
		}
		if rest == "" {
			limit := uint64(1)<<(8*(4-n)) - 1
			if v > limit {
				return netip.Addr{}, false
			}
			for i := 3; i >= n; i-- {
				b[i] = byte(v)
				v >>= 8
			}
			return netip.AddrFrom4(b), true
		}
		if rest[0] != '.' || n == 3 || v > 0xff {
			return netip.Addr{}, false
		}
		b[n] = byte(v)
		n++
		s = rest[1:]
	}
}

// parseCNumber reads the number at the start of s as inet_aton(3)
// does: it must start with a digit, and is then read as strtoul(3)
// reads with base 0. It fails above 32 bits.
func parseCNumber(s string) (v uint64, rest string, ok bool) {
	if s == "" || !isDigit(s[0]) {
		return 0, s, false
	}
	base, i := uint64(10), 0
	if s[0] == '0' {
		base, i = 8, 1
		if len(s) > 2 && (s[1]|0x20) == 'x' && isHex(s[2]) {
			base, i = 16, 2
		}
	}
	for ; i < len(s); i++ {
		d := hexValue(s[i])
		if d >= base {
			break
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, s, false
		}
	}
	return v, s[i:], true
}

// hexValue is the value of a hex digit, or 16 for any other byte.
func hexValue(ch byte) uint64 {
	switch {
	case isDigit(ch):
		return uint64(ch - '0')
	case 'a' <= (ch|0x20) && (ch|0x20) <= 'f':
		return uint64((ch|0x20)-'a') + 10
	}
	return 16
}
