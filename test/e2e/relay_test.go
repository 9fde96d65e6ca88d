// Package e2e measures delivery end to end: go-smtp-source sends into a
// real Postfix, which relays everything to go-smtp-sink, and the
// report pairs the two sides' results.
package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
	"github.com/go-smtp-source/go-smtp-source/internal/report"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/sink/sinktest"
)

// relayMessages is the messages the full-speed run sends, over 20
// sessions; 10,000 take about 30 s on two idle cores (60 s on busy
// ones), most of it Postfix's. -short sends 2,000.
const relayMessages = 10000

// deferMessages and deferRate are the deferral run's: paced below what
// Postfix relays, so that a message that is not deferred crosses in
// milliseconds and the retried ones stand out in the tail.
const (
	deferMessages = 4000
	deferRate     = "250/s"
)

// deliveryReport is the part of the JSON report the tests check.
type deliveryReport struct {
	RunID    string `json:"run_id"`
	Delivery *report.DeliveryStats
}

// relayRun sends n stamped messages (with the extra go-smtp-source
// arguments args) through a Postfix, with the extra main.cf settings,
// that relays to an in-process sink with cfg; waits until every one
// has arrived, flushing Postfix's deferred queue when flush is set;
// and returns the paired report and the Postfix instance.
func relayRun(t *testing.T, n int, args []string, cfg sink.Config,
	flush bool, settings ...string) (deliveryReport, *postfixtest.MTA) {

	ours := postfixtest.SourceUnderTest(t)
	tr := delivery.New("e2e")
	cfg.Delivery = tr
	_, sinkAddr := sinktest.Start(t, cfg)
	mta := postfixtest.StartMTA(t, append(
		postfixtest.RelaySettings(sinkAddr), settings...)...)

	dir := t.TempDir()
	src := filepath.Join(dir, "source.json")
	args = append([]string{"--unique-headers", "--run-id", "e2e",
		"-s", "20", "-m", strconv.Itoa(n), "-f", "sender@example.com",
		"-t", "rcpt@example.com", "--out", src}, args...)
	r := postfixtest.Run(t, 2*time.Minute, ours,
		append(args, mta.Addr)...)
	if r.ExitCode != 0 {
		t.Fatalf("go-smtp-source: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	t.Logf("submitted %d messages in %v", n,
		r.Elapsed.Round(time.Millisecond))

	// Wait for the last arrival, bounded.
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for tr.Delivery().Distinct < int64(n) &&
		time.Now().Before(deadline) {
		if flush {
			mta.Flush(t)
		}
		time.Sleep(500 * time.Millisecond)
	}
	d := tr.Delivery()
	t.Logf("%d of %d arrived %v after the last submission", d.Distinct,
		n, time.Since(start).Round(time.Millisecond))

	sinkOut := filepath.Join(dir, "sink.json")
	f, err := os.Create(sinkOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Result().Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var out, errs bytes.Buffer
	if code := report.Main([]string{"--format", "json", src, sinkOut},
		nil, &out, &errs); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs.String())
	}
	var rep deliveryReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Delivery == nil {
		t.Fatalf("report without a delivery section:\n%s", out.String())
	}

	var text bytes.Buffer
	report.Main([]string{src, sinkOut}, nil, &text, &errs)
	t.Logf("report:\n%s", text.String())
	return rep, mta
}

// TestRelayDelivery: every message crosses Postfix once, and the
// relay latency is measured.
func TestRelayDelivery(t *testing.T) {
	n := relayMessages
	if testing.Short() {
		n = 2000
	}
	rep, _ := relayRun(t, n, nil, sink.Config{}, false)
	d := rep.Delivery
	if rep.RunID != "e2e" {
		t.Errorf("report run id %q, want e2e", rep.RunID)
	}
	if d.Sent != int64(n) || d.Arrived != int64(n) || d.Lost != 0 ||
		d.Duplicated != 0 {
		t.Errorf("sent %d arrived %d lost %d duplicated %d, want "+
			"%d %d 0 0", d.Sent, d.Arrived, d.Lost, d.Duplicated, n, n)
	}
	if d.P50NS <= 0 || d.P99NS < d.P50NS || d.MaxNS < d.P99NS {
		t.Errorf("relay latency p50 %d p99 %d max %d: want "+
			"0 < p50 <= p99 <= max", d.P50NS, d.P99NS, d.MaxNS)
	}
	if d.Clients["127.0.0.1"] != int64(n) {
		t.Errorf("arrivals by client %v, want all from 127.0.0.1",
			d.Clients)
	}
}

// TestRelayDeferred: the sink refuses 10% of RCPTs with 450, Postfix
// defers those messages and retries them, and every message arrives in
// the end, the retried ones late.
func TestRelayDeferred(t *testing.T) {
	fault, err := sink.ParseFault("rcpt:10%:450")
	if err != nil {
		t.Fatal(err)
	}
	cfg := sink.Config{Faults: []sink.Fault{fault}, Seed: 7}
	rep, mta := relayRun(t, deferMessages, []string{"--rate", deferRate},
		cfg, true, postfixtest.ShortRetrySettings...)
	d := rep.Delivery
	if d.Sent != deferMessages || d.Distinct != deferMessages ||
		d.Lost != 0 {
		t.Errorf("sent %d distinct %d lost %d, want %d %d 0", d.Sent,
			d.Distinct, d.Lost, deferMessages, deferMessages)
	}

	// About a tenth were deferred (a retry may be refused again).
	log, err := os.ReadFile(mta.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	deferred := bytes.Count(log, []byte("status=deferred"))
	if deferred < deferMessages/20 || deferred > deferMessages/5 {
		t.Errorf("Postfix deferred %d deliveries, want about 10%% of %d",
			deferred, deferMessages)
	}

	// A deferred message waits for its retry, and a tenth were
	// deferred: the p99 is one of them. Postfix keeps the retry time
	// in whole seconds (the queue file's mtime, the second of the
	// deferral plus the 1 s backoff) and finds it at a scan of the
	// deferred queue, once a second, so a retry comes from almost at
	// once to over 2 s after the deferral, about 1 s on average. The
	// p99, the slowest tenth of the deferred, is then well over a
	// quarter of a second (a run gave 0.97 s), far above a direct
	// relay's milliseconds, and the slowest retry over a second.
	// (Whether the p50 stays low depends on Postfix keeping up with
	// the pace, which a busy machine does not promise: logged.)
	if d.P99NS < int64(250*time.Millisecond) ||
		d.MaxNS < int64(time.Second) {
		t.Errorf("relay latency p99 %v max %v: want retries in the "+
			"tail (p99 over 250ms, max over 1s)",
			time.Duration(d.P99NS), time.Duration(d.MaxNS))
	}
	t.Logf("relay latency p50 %v p99 %v max %v",
		time.Duration(d.P50NS), time.Duration(d.P99NS),
		time.Duration(d.MaxNS))
}
