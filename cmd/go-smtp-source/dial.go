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
// starts the sink first; cleanup stops it.
func newDialer(o *options, log *slog.Logger) (
	func(context.Context) (net.Conn, error), func(), error) {

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

	cleanup := func() {}
	if t.Kind == target.Sink {
		addr, stop, err := startSink(log)
		if err != nil {
			return nil, nil, fmt.Errorf("built-in sink: %w", err)
		}
		cleanup = stop
		t, err = target.Parse(addr)
		if err != nil {
			stop()
			return nil, nil, err
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.connectTO)
	defer cancel()
	addr, err := t.Resolve(ctx, family)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	d := &target.Dialer{
		Addr:       addr,
		WindowSize: o.windowSize,
		Timeout:    o.connectTO,
	}
	return d.Dial, cleanup, nil
}
