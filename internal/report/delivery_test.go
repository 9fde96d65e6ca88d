package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// receiverRun is a sink's result for run runID: 92 distinct messages
// (of typicalRun's 94 accepted), one of them twice, each 20 ms after it
// was sent.
func receiverRun(runID string) *metrics.Result {
	rec := metrics.NewDeliveryRecorder()
	c := rec.Counts()
	c.Arrived, c.Distinct, c.Duplicated = 93, 92, 1
	c.Clients = map[string]int64{"127.0.0.1": 93}
	for i := range 93 {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		rec.Observe(at, 20*time.Millisecond)
	}
	return metrics.NewDeliveryResult(runID, rec.Delivery(), t0,
		t0.Add(2*time.Second))
}

// A sender's and a receiver's result of one run are paired, not
// merged: the report is the sender's, with the delivery added.
func TestMainPairsSenderAndReceiver(t *testing.T) {
	dir := t.TempDir()
	sender := typicalRun(2, 50)
	sender.RunID = "r1"
	src := writeResult(t, dir, "source.json", sender)
	snk := writeResult(t, dir, "sink.json", receiverRun("r1"))

	code, out, errs := run("", "--format", "json", snk, src)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var s Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Messages != sender.Messages {
		t.Errorf("messages %+v, want the sender's %+v", s.Messages,
			sender.Messages)
	}
	d := s.Delivery
	if d == nil {
		t.Fatalf("no delivery section:\n%s", out)
	}
	got := [5]int64{d.Sent, d.Arrived, d.Distinct, d.Lost, d.Duplicated}
	if want := [5]int64{94, 93, 92, 2, 1}; got != want {
		t.Errorf("sent, arrived, distinct, lost, duplicated = %v, "+
			"want %v", got, want)
	}
	ms := int64(20 * time.Millisecond)
	if d.P50NS < ms*99/100 || d.P50NS > ms*101/100 || d.MaxNS != ms {
		t.Errorf("p50 %d max %d, want 20ms", d.P50NS, d.MaxNS)
	}
	if len(d.Series) != 2 || d.Series[0].Arrived != 50 {
		t.Errorf("series %+v, want 50 then 43 arrivals", d.Series)
	}

	_, text, _ := run("", src, snk)
	for _, want := range []string{"sent 94, lost 2, arrived 93",
		"duplicated 1", "p50 20.00ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	_, page, _ := run("", "--format", "html", src, snk)
	if !strings.Contains(page, "Relay latency per second") {
		t.Error("HTML report lacks the relay latency chart")
	}
}

func TestMainPairErrors(t *testing.T) {
	dir := t.TempDir()
	sender := typicalRun(1, 10)
	sender.RunID = "r1"
	src := writeResult(t, dir, "source.json", sender)
	other := writeResult(t, dir, "other.json", receiverRun("r2"))

	code, _, errs := run("", src, other)
	if code != 1 || !strings.Contains(errs, `run id "r2"`) {
		t.Errorf("another run's receiver: exit %d, stderr %q", code, errs)
	}

	// A receiver's result alone: what arrived, sent unknown.
	code, out, errs := run("", other)
	if code != 0 || !strings.Contains(out, "sent unknown") {
		t.Errorf("receiver alone: exit %d, stderr %q\n%s", code, errs,
			out)
	}
	// A sender's alone has no delivery section.
	_, out, _ = run("", "--format", "json", src)
	if strings.Contains(out, `"delivery"`) {
		t.Errorf("sender alone has a delivery section:\n%s", out)
	}
}
