package target

import (
	"errors"
	"strings"
)

// The reasons Postfix's host_port(3) gives for an endpoint it cannot
// split. smtp-source and smtp-sink print them as "fatal: ARG: REASON".
var (
	errNoBracket    = errors.New(`missing "]"`)
	errAfterBracket = errors.New(`garbage after "]"`)
	errBadIPv6      = errors.New("malformed IPv6 address")
	errNoHost       = errors.New("missing host information")
	errNoService    = errors.New("missing service information")
	errBadHost      = errors.New(
		"valid hostname or network address required")
	errBadService = errors.New("garbage after numerical service")
)

// Limits from Postfix's valid_hostname(3).
const (
	maxHostnameLen = 255
	maxLabelLen    = 63
)

// splitHostPort splits s into host and port the way Postfix's
// host_port(3) does. It accepts [host]:port, [host]:, [host],
// [IPv6:addr]..., host:port, host: and host, splitting at the last
// colon, so "::1:25" is host "::1" and port "25".
//
// On the client side (listen false) a missing port is "smtp" and the
// host is required. On the listen side the port is required and a
// missing host (":25" or "25") is returned as "", meaning all
// interfaces.
func splitHostPort(s string, listen bool) (host, port string, err error) {
	var hostOK, portOK, hostDefault, portDefault bool

	if rest, ok := strings.CutPrefix(s, "["); ok {
		ipv6 := len(rest) >= 5 && strings.EqualFold(rest[:5], "IPv6:")
		if ipv6 {
			rest = rest[5:]
		}
		host, rest, ok = strings.Cut(rest, "]")
		if !ok {
			return "", "", errNoBracket
		}
		if rest != "" && rest[0] != ':' {
			return "", "", errAfterBracket
		}
		if ipv6 && !validIPv6Addr(host) {
			return "", "", errBadIPv6
		}
		port = strings.TrimPrefix(rest, ":")
		hostOK, portOK = true, port != ""
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		hostOK, portOK = host != "", port != ""
	} else if listen {
		// A lone word on the listen side is the port.
		port, portOK = s, s != ""
	} else {
		host, hostOK = s, s != ""
	}

	// Fill in the defaults: no host means all interfaces when
	// listening; no port means the smtp service when connecting.
	if !hostOK && listen {
		host, hostOK, hostDefault = "", true, true
	}
	if !portOK && !listen {
		port, portOK, portDefault = "smtp", true, true
	}
	if !hostOK {
		return "", "", errNoHost
	}
	if !portOK {
		return "", "", errNoService
	}

	// Postfix remains sloppy here: a bare address is accepted where
	// the [address] form would be proper.
	if !hostDefault && !validHostname(host) && !validHostAddr(host) {
		return "", "", errBadHost
	}
	if !portDefault && isDigit(port[0]) && !allDigits(port) {
		return "", "", errBadService
	}
	return host, port, nil
}

// validHostname reports whether name passes Postfix's
// valid_hostname(3): letters, digits, underscores, dots and hyphens,
// labels of 1 to 63 characters that neither start nor end with a
// hyphen, at most 255 characters, and not all numeric.
func validHostname(name string) bool {
	if name == "" || len(name) > maxHostnameLen {
		return false
	}
	labelLen, numeric := 0, true
	for i := 0; i < len(name); i++ {
		ch, last := name[i], i == len(name)-1
		switch {
		case isAlnum(ch) || ch == '_':
			labelLen++
			if labelLen > maxLabelLen {
				return false
			}
			if !isDigit(ch) {
				numeric = false
			}
		case ch == '.':
			if labelLen == 0 || last {
				return false
			}
			labelLen = 0
		case ch == '-':
			labelLen++
			if labelLen == 1 || last || name[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return !numeric
}

// validHostAddr reports whether addr passes Postfix's valid_hostaddr(3):
// an IPv6 address if it has a colon, a dotted quad otherwise.
func validHostAddr(addr string) bool {
	if strings.IndexByte(addr, ':') >= 0 {
		return validIPv6Addr(addr)
	}
	return validIPv4Addr(addr)
}

// validIPv4Addr reports whether addr is four decimal octets of at most
// 255 separated by dots, as Postfix's valid_ipv4_hostaddr(3) checks.
// Leading zeros are allowed (the resolver then reads them as octal),
// but a first octet of zero is only allowed in 0.0.0.0.
func validIPv4Addr(addr string) bool {
	inOctet, octets, val := false, 0, 0
	for i := 0; i < len(addr); i++ {
		ch := addr[i]
		switch {
		case isDigit(ch):
			if !inOctet {
				inOctet, val = true, 0
				octets++
			}
			val = val*10 + int(ch-'0')
			if val > 255 {
				return false
			}
		case ch == '.':
			if !inOctet || i == len(addr)-1 {
				return false
			}
			if octets == 1 && val == 0 &&
				strings.TrimLeft(addr, "0.") != "" {
				return false
			}
			inOctet = false
		default:
			return false
		}
	}
	return octets == 4
}

// validIPv6Addr reports whether addr has the shape Postfix's
// valid_ipv6_hostaddr(3) accepts: up to eight hex fields of at most
// four digits separated by colons, at most one "::", and optionally a
// dotted quad in place of the last two fields. Like Postfix it checks
// shape only, so "1:2:3" passes here and fails later in the resolver.
func validIPv6Addr(addr string) bool {
	field, nullField, fieldLen := 0, 0, 0
	for i := 0; ; {
		if i == len(addr) {
			if field < 2 {
				return false // too few colons
			}
			// A trailing colon is only good as part of "::".
			return fieldLen > 0 || nullField == field-1
		}
		switch ch := addr[i]; ch {
		case '.':
			if field < 2 || field > 6 {
				return false
			}
			return validIPv4Addr(addr[i-fieldLen:])
		case ':':
			next := byte(0)
			if i+1 < len(addr) {
				next = addr[i+1]
			}
			if field == 0 && fieldLen == 0 && isAlnum(next) {
				return false // a lone leading colon
			}
			field++
			if field > 7 {
				return false
			}
			i++
			fieldLen = 0
			if next == ':' {
				if nullField > 0 {
					return false // a second "::"
				}
				nullField = field
			}
		default:
			n := 0
			for i+n < len(addr) && isHex(addr[i+n]) {
				n++
			}
			if n == 0 || n > 4 {
				return false
			}
			fieldLen = n
			i += n
		}
	}
}

// isDigit, isHex and isAlnum classify ASCII bytes only, as Postfix's
// ISDIGIT and friends do: other bytes are never name characters.
func isDigit(ch byte) bool { return '0' <= ch && ch <= '9' }

func isHex(ch byte) bool {
	return isDigit(ch) || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F'
}

func isAlnum(ch byte) bool {
	return isDigit(ch) || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z'
}

// allDigits reports whether s is non-empty and all ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
