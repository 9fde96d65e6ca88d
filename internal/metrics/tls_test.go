package metrics

import (
	"crypto/tls"
	"maps"
	"strings"
	"testing"
	"time"
)

// tlsRun records handshakes on two shards and returns the result.
func tlsRun() *Result { return tlsRunAt(t0) }

// tlsRunAt is tlsRun started at start: two runs are never the same run.
func tlsRunAt(start time.Time) *Result {
	r := New(start)
	a, b := r.NewShard(), r.NewShard()
	for range 3 {
		a.TLS(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, true)
	}
	a.TLS(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, false)
	b.TLS(tls.VersionTLS12,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false)
	r.Tick(start.Add(time.Second))
	return r.Result()
}

func TestTLSCounts(t *testing.T) {
	res := tlsRun()
	want := &TLS{
		Versions: map[string]int64{"TLS 1.3": 4, "TLS 1.2": 1},
		Ciphers: map[string]int64{
			"TLS_AES_128_GCM_SHA256":                  4,
			"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 1,
		},
		Resumed: 3,
	}
	checkTLS(t, res.TLS, want)
	if n := res.TLS.Handshakes(); n != 5 {
		t.Errorf("Handshakes() = %d, want 5", n)
	}

	// Through the document and back.
	checkTLS(t, decodeString(t, encodeString(t, res)).TLS, want)
}

// A run without TLS keeps "tls" out of its document.
func TestTLSAbsent(t *testing.T) {
	res := New(t0).Result()
	if res.TLS != nil {
		t.Errorf("TLS = %+v, want nil", res.TLS)
	}
	if s := encodeString(t, res); strings.Contains(s, `"tls"`) {
		t.Errorf("document has tls: %s", s)
	}
}

func TestTLSMerge(t *testing.T) {
	a, b := tlsRun(), New(t0).Result()
	m, err := Merge(a, b, tlsRunAt(t0.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	checkTLS(t, m.TLS, &TLS{
		Versions: map[string]int64{"TLS 1.3": 8, "TLS 1.2": 2},
		Ciphers: map[string]int64{
			"TLS_AES_128_GCM_SHA256":                  8,
			"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 2,
		},
		Resumed: 6,
	})
	if a.TLS.Resumed != 3 {
		t.Errorf("merge changed an input: resumed %d", a.TLS.Resumed)
	}
}

func TestTLSDecodeRefuses(t *testing.T) {
	good := encodeString(t, tlsRun())
	for name, edit := range map[string][2]string{
		"resumed past handshakes": {`"resumed": 3`, `"resumed": 6`},
		"negative resumed":        {`"resumed": 3`, `"resumed": -1`},
		"sums differ":             {`"TLS 1.2": 1`, `"TLS 1.2": 2`},
		"negative count":          {`"TLS 1.2": 1`, `"TLS 1.2": -1`},
	} {
		if !strings.Contains(good, edit[0]) {
			t.Fatalf("%s: no %s in %s", name, edit[0], good)
		}
		bad := strings.Replace(good, edit[0], edit[1], 1)
		if _, err := Decode(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func checkTLS(t *testing.T, got, want *TLS) {
	t.Helper()
	if got == nil {
		t.Fatal("no TLS counts")
	}
	if !maps.Equal(got.Versions, want.Versions) ||
		!maps.Equal(got.Ciphers, want.Ciphers) ||
		got.Resumed != want.Resumed {
		t.Errorf("TLS = %+v, want %+v", *got, *want)
	}
}
