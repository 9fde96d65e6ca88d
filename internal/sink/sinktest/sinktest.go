// Package sinktest starts go-smtp-sink in-process for tests of other
// packages: a real SMTP server on a loopback port, stopped when the test
// ends.
package sinktest

import (
	"context"
	"net"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/sink"
)

// Start runs a sink with cfg on a free 127.0.0.1 port and returns it
// with its address. It is closed, and its Serve waited for, at the end
// of the test.
func Start(t testing.TB, cfg sink.Config) (*sink.Server, string) {
	t.Helper()
	srv, err := sink.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("sink: %v", err)
		}
	})
	return srv, ln.Addr().String()
}
