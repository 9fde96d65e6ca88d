package report

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// The text report counts a run's TLS handshakes, versions and cipher
// suites in two header lines, most frequent first.
func TestTextTLS(t *testing.T) {
	rec := metrics.New(t0)
	sh := rec.NewShard()
	for i := range 5 {
		session(sh, i)
		sh.TLS(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, i > 0)
	}
	sh.TLS(tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		false)
	rec.Tick(t0.Add(time.Second))

	var b bytes.Buffer
	if err := Text(&b, rec.Result()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\ntls         6 handshakes, 4 resumed: TLS 1.3 5, TLS 1.2 1\n",
		"\nciphers     TLS_AES_128_GCM_SHA256 5, " +
			"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 1\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// A run without TLS has no TLS lines.
func TestTextNoTLS(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, typicalRun(1, 5)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\ntls ") {
		t.Errorf("report has a tls line:\n%s", b.String())
	}
}
