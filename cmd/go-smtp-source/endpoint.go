package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// endpoint is the HTTP server of --metrics-addr. It is up before the
// run starts, so that an engine sees the shard ready (/readyz) during
// the lead to --start-at, and serves the run's metrics at /metrics
// once the run has started; --linger keeps it up after the run.
type endpoint struct {
	srv     *http.Server
	metrics atomic.Pointer[http.Handler]
}

// startEndpoint listens on addr and serves.
func startEndpoint(addr string, log *slog.Logger) (*endpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	e := &endpoint{}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter,
		_ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", e.serveMetrics)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := e.srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics: " + err.Error())
		}
	}()
	return e, nil
}

// serveMetrics serves the run's metrics, or 503 before the start.
func (e *endpoint) serveMetrics(w http.ResponseWriter, r *http.Request) {
	h := e.metrics.Load()
	if h == nil {
		http.Error(w, "the run has not started",
			http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// setMetrics makes /metrics serve h.
func (e *endpoint) setMetrics(h http.Handler) { e.metrics.Store(&h) }

// close stops the server; nil is allowed.
func (e *endpoint) close() {
	if e != nil {
		e.srv.Close()
	}
}
