package scripttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// CertName is the only name in the server certificate: its common name
// and its one DNS SAN. There are no IP SANs, so a client that verifies
// against 127.0.0.1 fails, as it would against a real loopback server.
const CertName = "mx.example.com"

var (
	certOnce sync.Once
	certTLS  tls.Certificate
	certPEM  []byte
	certErr  error
)

// serverCert returns the process's self-signed certificate, made on first
// use.
func serverCert() (tls.Certificate, []byte, error) {
	certOnce.Do(func() {
		certTLS, certPEM, certErr = makeCert()
	})
	return certTLS, certPEM, certErr
}

// makeCert makes a self-signed ECDSA certificate that can serve both as
// the server's certificate and as the trust anchor that checks it.
func makeCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certificate serial: %w",
			err)
	}

	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CertName},
		DNSNames:              []string{CertName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey,
		key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certificate: %w", err)
	}

	block := &pem.Block{Type: "CERTIFICATE", Bytes: der}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return cert, pem.EncodeToMemory(block), nil
}
