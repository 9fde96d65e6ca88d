package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopper turns SIGTERM and SIGINT into the two stages of a stop. The
// first signal ends soft: the run starts no new transaction and waits
// for the ones in flight. The second signal, or the bound on that wait,
// ends hard: the connections are closed, and a transaction cut short
// after its data went out counts as unknown.
type stopper struct {
	soft, hard             context.Context
	softCancel, hardCancel context.CancelFunc
	sigs                   chan os.Signal
}

// newStopper starts watching for signals; bound limits the wait for
// the transactions in flight (0: no limit).
func newStopper(bound time.Duration) *stopper {
	s := &stopper{sigs: make(chan os.Signal, 2)}
	s.hard, s.hardCancel = context.WithCancel(context.Background())
	s.soft, s.softCancel = context.WithCancel(s.hard)
	signal.Notify(s.sigs, os.Interrupt, syscall.SIGTERM)
	go s.watch(bound)
	watching()
	return s
}

// watching is called once signals are caught; a hook for tests, which
// may send signals from then on.
var watching = func() {}

func (s *stopper) watch(bound time.Duration) {
	select {
	case <-s.sigs:
	case <-s.hard.Done():
		return
	}
	s.softCancel()

	var limit <-chan time.Time
	if bound > 0 {
		t := time.NewTimer(bound)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-s.sigs:
	case <-limit:
	case <-s.hard.Done():
	}
	s.hardCancel()
}

// stopped reports whether a signal came.
func (s *stopper) stopped() bool { return s.soft.Err() != nil }

// close stops watching for signals.
func (s *stopper) close() {
	signal.Stop(s.sigs)
	s.hardCancel()
}
