// Package target parses, resolves, dials and listens on the endpoints
// of go-smtp-source and go-smtp-sink, with the syntax, resolution and
// error wording of Postfix's smtp-source(1) and smtp-sink(1).
//
// Client endpoints (smtp-source), each optionally after "inet:":
//
//	host, host:, host:port          the port defaults to smtp (25)
//	[host], [host]:, [host]:port
//	[::1]:2525, [IPv6:::1]:2525     IPv6 in brackets
//	::1:2525                        or bare, split at the last colon
//
// and also:
//
//	unix:pathname                   a UNIX-domain stream socket
//	sink:                           our in-process sink, not Postfix's
//
// Listen endpoints (smtp-sink) need the port and may leave out the
// host, meaning all interfaces: ":25", "25", "127.0.0.1:25",
// "[::1]:25", each optionally after "inet:", or "unix:pathname".
//
// Host and port are split as Postfix's host_port(3) does, and parse
// and resolution errors read exactly as Postfix prints them after
// "fatal: ", for example "nosuch.invalid:25: Name or service not known".
package target

import (
	"errors"
	"fmt"
	"strings"
)

// Kind tells how an endpoint is reached.
type Kind int

// The kinds of endpoint.
const (
	TCP  Kind = iota // a host and port, IPv4 or IPv6
	Unix             // a UNIX-domain stream socket
	Sink             // the built-in in-process sink ("sink:")
)

// String returns the endpoint prefix that selects the kind.
func (k Kind) String() string {
	switch k {
	case TCP:
		return "inet"
	case Unix:
		return "unix"
	case Sink:
		return "sink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Target is a parsed endpoint. It holds names, not addresses: see
// [Target.Resolve].
type Target struct {
	Kind Kind

	// Host and Port are set for TCP. Host has no brackets; it is empty
	// on the listen side for all interfaces. Port is a number or a
	// service name; it is "smtp" when a client endpoint has none.
	Host, Port string

	// Path is the socket path for Unix.
	Path string

	// Raw is the endpoint as given.
	Raw string
}

// maxUnixPath is the size of sun_path in struct sockaddr_un on Linux.
// As in Postfix, the path and its terminating NUL must fit.
const maxUnixPath = 108

// errSinkOptions rejects text after "sink:", kept free for options.
var errSinkOptions = errors.New(`unexpected text after "sink:"`)

// Parse parses a client endpoint, the argument of go-smtp-source.
func Parse(s string) (Target, error) {
	if s == "sink:" {
		return Target{Kind: Sink, Raw: s}, nil
	}
	if strings.HasPrefix(s, "sink:") {
		return Target{}, &endpointError{s, errSinkOptions}
	}
	return parse(s, false)
}

// ParseListen parses a listen endpoint, the first argument of
// go-smtp-sink. The port is required; the host may be left out.
func ParseListen(s string) (Target, error) {
	return parse(s, true)
}

// parse handles the forms common to both sides, in smtp-source's
// order: "unix:" first, then an optional "inet:", then host_port(3).
func parse(s string, listen bool) (Target, error) {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if len(path) >= maxUnixPath {
			return Target{}, fmt.Errorf(
				"unix-domain name too long: %s", path)
		}
		return Target{Kind: Unix, Path: path, Raw: s}, nil
	}

	host, port, err := splitHostPort(strings.TrimPrefix(s, "inet:"), listen)
	if err != nil {
		return Target{}, &endpointError{endpointName(s), err}
	}
	return Target{Kind: TCP, Host: host, Port: port, Raw: s}, nil
}

// endpointName is how Postfix names an endpoint in errors: as given,
// less any "inet:" prefix.
func endpointName(raw string) string {
	return strings.TrimPrefix(raw, "inet:")
}

// endpointError is a parse or resolve failure, worded as Postfix's
// "ENDPOINT: REASON".
type endpointError struct {
	endpoint string
	err      error
}

func (e *endpointError) Error() string {
	return e.endpoint + ": " + e.err.Error()
}

func (e *endpointError) Unwrap() error { return e.err }
