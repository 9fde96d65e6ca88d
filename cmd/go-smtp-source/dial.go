package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// newDialer parses and resolves the target once, as smtp-source does, and
// returns the function sessions connect with. For the built-in sink it
// starts the sink first and returns it. A run of one session (this
// process's share) connects on blocking sockets, which cost it about a
// third less CPU per message than the runtime's poller; more sessions
// would need a thread each (target.Dialer's Blocking).
func newDialer(o *options, sessions int, log *slog.Logger) (
	func(context.Context) (net.Conn, error), *builtinSink, error) {

	t, err := target.Parse(o.target)
	if err != nil {
		return nil, nil, err
	}
	family := target.AnyFamily
	switch {
	case o.ipv4:
		family = target.IPv4
	case o.ipv6:
		family = target.IPv6
	}

	var sk *builtinSink
	if t.Kind == target.Sink {
		if sk, err = startSink(o, log); err != nil {
			return nil, nil, fmt.Errorf("built-in sink: %w", err)
		}
		if t, err = target.Parse(sk.addr); err != nil {
			sk.stop()
			return nil, nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.connectTO)
	defer cancel()
	addr, err := t.Resolve(ctx, family)
	if err != nil {
		if sk != nil {
			sk.stop()
		}
		return nil, nil, err
	}
	d := &target.Dialer{
		Addr:       addr,
		WindowSize: o.windowSize,
		Timeout:    o.connectTO,
		Blocking:   blockingFits(sessions, sk, addr),
	}
	return d.Dial, sk, nil
}

// blockingFits says whether the run's connections should be blocking
// sockets: for one session to a TCP address of another process. The
// built-in sink shares the process and its processor, which a session
// blocked in read(2) holds (5 to 11 times slower, measured); a connect
// to a UNIX-domain socket whose backlog is full blocks where the
// poller's fails at once with EAGAIN, and no signal can end it.
func blockingFits(sessions int, sk *builtinSink, addr net.Addr) bool {
	_, tcp := addr.(*net.TCPAddr)
	return sessions == 1 && sk == nil && tcp
}
