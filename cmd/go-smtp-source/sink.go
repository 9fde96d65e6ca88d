package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/go-smtp-source/go-smtp-source/internal/sink"
)

// builtinSink is the go-smtp-sink started in-process for the target
// "sink:", with smtp-sink's defaults but no concurrency cap, on a free
// loopback port.
type builtinSink struct {
	srv  *sink.Server
	addr string
	done chan error
}

func startSink(o *options, log *slog.Logger) (*builtinSink, error) {
	// The sink's own warnings say they are the sink's.
	log = slog.New(prefixed{log.Handler(), "sink: "})
	srv, err := sink.New(builtinConfig(o), log)
	if err != nil {
		return nil, err
	}
	ln, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	b := &builtinSink{srv: srv, addr: ln.Addr().String(),
		done: make(chan error, 1)}
	go func() { b.done <- srv.Serve(context.Background(), ln) }()
	return b, nil
}

// listenLoopback listens on a free loopback port with TCP, as the client
// connects, not Go's default Multipath TCP.
func listenLoopback() (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	return lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
}

// builtinConfig offers what the client is asked to use: STARTTLS or
// implicit TLS with a certificate made at start (verification is off
// unless --tls-verify is given, which this certificate cannot pass),
// and CHUNKING; LMTP with -L. PIPELINING is always offered.
func builtinConfig(o *options) sink.Config {
	cfg := sink.Config{
		MaxSessions: 1 << 20,
		LMTP:        o.lmtp,
		StartTLS:    o.starttls != "" && !o.sec.smtps,
		ImplicitTLS: o.sec.smtps,
		Chunking:    o.ext.chunking,
	}
	if cfg.StartTLS || cfg.ImplicitTLS {
		// A certificate for 127.0.0.1 cannot fail to be made but by
		// a broken random source; sink.New then names the problem.
		cfg.TLS, _ = sink.TLSConfig("", "", "localhost")
	}
	return cfg
}

// stop stops the sink and reports what it received.
func (b *builtinSink) stop() sink.Stats {
	b.srv.Close()
	<-b.done
	return b.srv.Stats()
}

// sinkSummary words what the built-in sink saw, to stand beside the
// client's summary.
func sinkSummary(st sink.Stats) string {
	return fmt.Sprintf("%s: sink: sessions=%d messages=%d refused=%d"+
		" recipients=%d bytes=%d", prog, st.Sessions, st.Messages,
		st.Refused, st.Recipients, st.Bytes)
}

// prefixed is a slog.Handler that starts every message with prefix.
type prefixed struct {
	slog.Handler
	prefix string
}

func (h prefixed) Handle(ctx context.Context, r slog.Record) error {
	r.Message = h.prefix + r.Message
	return h.Handler.Handle(ctx, r)
}

func (h prefixed) WithAttrs(attrs []slog.Attr) slog.Handler {
	return prefixed{h.Handler.WithAttrs(attrs), h.prefix}
}

func (h prefixed) WithGroup(name string) slog.Handler {
	return prefixed{h.Handler.WithGroup(name), h.prefix}
}
