package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape serves reg over HTTP and parses what a Prometheus server gets.
func scrape(t *testing.T,
	reg *prometheus.Registry) map[string]*dto.MetricFamily {

	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg,
		promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value finds the sample of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string,
	want map[string]string) *dto.Metric {

	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if ok {
			return m
		}
	}
	return nil
}

func TestPrometheus(t *testing.T) {
	r := New(t0)
	s := r.NewShard()
	// 0.1 ms, 1 ms and 10 s: away from bucket bounds.
	for _, d := range []time.Duration{100 * time.Microsecond,
		time.Millisecond, time.Millisecond, 10 * time.Second} {
		s.Step(Mail, d, 250, 0)
	}
	s.Step(Rcpt, time.Millisecond, 450, ParseEnhanced("4.2.2"))
	s.Fail(Connect, KindTimeout)
	s.Message(Accepted, time.Millisecond, 0)
	s.Message(PermFail, time.Millisecond, 0)
	s.Recipients(2, 1)
	s.SessionOpened()
	s.SessionOpened()
	s.SessionDone(time.Second)
	s.Bytes(500, 40)

	reg := prometheus.NewPedanticRegistry()
	if err := r.Register(reg, prometheus.Labels{"run_id": "r1"}); err != nil {
		t.Fatal(err)
	}
	got := value(scrape(t, reg), "gosmtpsource_messages_total",
		map[string]string{"result": "accepted"})
	if got == nil || got.GetCounter().GetValue() != 0 {
		t.Errorf("before a tick: %v", got)
	}
	r.Tick(at(time.Second))
	fams := scrape(t, reg)

	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gosmtpsource_messages_total", map[string]string{
			"result": "accepted", "run_id": "r1"}, 1},
		{"gosmtpsource_messages_total", map[string]string{
			"result": "permfail"}, 1},
		{"gosmtpsource_messages_total", map[string]string{
			"result": "unknown"}, 0},
		{"gosmtpsource_recipients_total", map[string]string{
			"result": "rejected"}, 1},
		{"gosmtpsource_smtp_replies_total", map[string]string{
			"phase": "mail", "code": "250"}, 4},
		{"gosmtpsource_smtp_replies_total", map[string]string{
			"phase": "rcpt", "code": "450"}, 1},
		{"gosmtpsource_enhanced_status_codes_total", map[string]string{
			"code": "4.2.2"}, 1},
		{"gosmtpsource_transport_errors_total", map[string]string{
			"phase": "connect", "kind": "timeout"}, 1},
		{"gosmtpsource_sessions_opened_total", nil, 2},
		{"gosmtpsource_bytes_sent_total", nil, 500},
		{"gosmtpsource_bytes_received_total", nil, 40},
	}
	for _, c := range counters {
		m := value(fams, c.name, c.labels)
		if m == nil || m.GetCounter().GetValue() != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, m, c.want)
		}
	}
	if m := value(fams, "gosmtpsource_sessions_active", nil); m == nil ||
		m.GetGauge().GetValue() != 1 {
		t.Errorf("sessions_active = %v", m)
	}

	h := value(fams, "gosmtpsource_phase_duration_seconds",
		map[string]string{"phase": "mail", "run_id": "r1"}).GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() != 10.0021 {
		t.Errorf("mail: count %d sum %v", h.GetSampleCount(),
			h.GetSampleSum())
	}
	for _, b := range h.Bucket {
		le, want := b.GetUpperBound(), uint64(0)
		switch {
		case le >= 10:
			want = 4
		case le >= 0.001:
			want = 3
		case le >= 0.0002:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("mail bucket le=%v: %d, want %d", le,
				b.GetCumulativeCount(), want)
		}
	}
	if len(h.Bucket) != len(PhaseBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d", len(h.Bucket), len(PhaseBuckets))
	}
}
