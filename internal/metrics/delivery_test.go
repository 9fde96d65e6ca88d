package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Decode checks the delivery section like the rest: counts that
// contradict each other, and a histogram that is not the count's.
func TestDecodeDeliveryChecks(t *testing.T) {
	rec := NewDeliveryRecorder()
	c := rec.Counts()
	c.Arrived, c.Distinct = 2, 2
	at := time.Unix(1_800_000_000, 0)
	rec.Observe(at, time.Millisecond)
	rec.Observe(at.Add(time.Second), 2*time.Millisecond)
	var good bytes.Buffer
	err := NewDeliveryResult("r", rec.Delivery(), at,
		at.Add(2*time.Second)).Encode(&good)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decode(bytes.NewReader(good.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Delivery; d.Latency.Count != 2 || len(d.Points) != 2 ||
		d.Latency.MaxNS != int64(2*time.Millisecond) {
		t.Errorf("decoded %+v", d)
	}

	for _, tc := range []struct{ from, to, err string }{
		{`"distinct": 2`, `"distinct": 3`, "more distinct"},
		{`"arrived": 2`, `"arrived": -1`, "negative"},
		{`"count": 2`, `"count": 3`, "histogram holds 2"},
	} {
		bad := strings.Replace(good.String(), tc.from, tc.to, 1)
		if bad == good.String() {
			t.Fatalf("%q not in the document", tc.from)
		}
		_, err := Decode(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.to, err, tc.err)
		}
	}
}
