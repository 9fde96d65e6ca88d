package metrics

import (
	"crypto/tls"
	"fmt"
)

// TLS counts a run's completed TLS handshakes by protocol version and
// by cipher suite, named as crypto/tls names them ("TLS 1.3",
// "TLS_AES_128_GCM_SHA256"), and how many of them resumed an earlier
// session. A run without TLS has none, and no "tls" in its document.
type TLS struct {
	Versions map[string]int64 `json:"versions"`
	Ciphers  map[string]int64 `json:"ciphers"`
	Resumed  int64            `json:"resumed"`
}

// Handshakes returns the number of handshakes counted.
func (t *TLS) Handshakes() int64 {
	if t == nil {
		return 0
	}
	var n int64
	for _, c := range t.Versions {
		n += c
	}
	return n
}

// TLS records a completed TLS handshake that negotiated version and
// cipher (crypto/tls's numbers), and whether it resumed a session.
func (s *Shard) TLS(version, cipher uint16, resumed bool) {
	s.mu.Lock()
	s.cur.tls.inc(uint32(version)<<16 | uint32(cipher))
	if resumed {
		s.cur.n[cTLSResumed]++
	}
	s.mu.Unlock()
}

// fillTLS copies the handshake totals into res, when there are any.
func (t *totals) fillTLS(res *Result) {
	if len(t.tls) == 0 {
		return
	}
	res.TLS = &TLS{
		Versions: map[string]int64{},
		Ciphers:  map[string]int64{},
		Resumed:  t.n[cTLSResumed],
	}
	for k, c := range t.tls {
		res.TLS.Versions[tls.VersionName(uint16(k>>16))] += c
		res.TLS.Ciphers[tls.CipherSuiteName(uint16(k))] += c
	}
}

// tls adds r's handshake counts to out's.
func (s *summer) tls(out, r *Result) {
	if r.TLS == nil {
		return
	}
	if out.TLS == nil {
		out.TLS = &TLS{Versions: map[string]int64{},
			Ciphers: map[string]int64{}}
	}
	s.counts(out.TLS.Versions, r.TLS.Versions)
	s.counts(out.TLS.Ciphers, r.TLS.Ciphers)
	s.add(&out.TLS.Resumed, r.TLS.Resumed)
}

// check refuses negative or nameless counts, more resumed handshakes
// than handshakes, and versions and ciphers that do not add up to the
// same number.
func (t *TLS) check() error {
	if t == nil {
		return nil
	}
	var sums [2]int64
	for i, m := range []map[string]int64{t.Versions, t.Ciphers} {
		for k, c := range m {
			if k == "" || c < 0 {
				return fmt.Errorf("tls: bad entry %q: %d", k, c)
			}
			sums[i] += c
		}
	}
	switch {
	case sums[0] != sums[1]:
		return fmt.Errorf("tls: %d handshakes by version but %d by "+
			"cipher", sums[0], sums[1])
	case t.Resumed < 0 || t.Resumed > sums[0]:
		return fmt.Errorf("tls: %d resumed of %d handshakes", t.Resumed,
			sums[0])
	}
	return nil
}
