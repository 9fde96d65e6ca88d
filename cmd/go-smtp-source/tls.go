package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/load"
	"github.com/go-smtp-source/go-smtp-source/internal/smtp"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// secOptions are the TLS and AUTH options: --ehlo, --smtps, --tls-*
// and --auth-*. (--starttls is options.starttls.)
type secOptions struct {
	ehlo, smtps, verify, resume bool
	ca, serverName, cert, key   string
	minVersion, maxVersion      uint16 // 0: crypto/tls's default
	ciphers                     []uint16

	authMech                  string // "" picks from the EHLO list
	authUser                  string // "" for no AUTH
	password                  string
	passwordEnv, passwordFile string
}

// secFlags are the getopt values of secOptions, before checking.
type secFlags struct {
	ehlo, smtps, verify, resume              *bool
	ca, serverName, cert, key, minV, maxV    *string
	ciphers, mech, user, pass, env, passFile *string
}

// tlsFlagNames are the options that only mean something with TLS.
var tlsFlagNames = []string{"tls-verify", "tls-ca", "tls-server-name",
	"tls-cert", "tls-key", "tls-min-version", "tls-max-version",
	"tls-ciphers", "tls-resume"}

// addSecFlags declares the TLS and AUTH options on set.
func addSecFlags(set *getopt.Set) *secFlags {
	str := func(long string) *string { return set.StringLong(long, 0, "") }
	flag := func(long string) *bool { return set.BoolLong(long, 0) }
	return &secFlags{
		ehlo: flag("ehlo"), smtps: flag("smtps"),
		verify: flag("tls-verify"), resume: flag("tls-resume"),
		ca: str("tls-ca"), serverName: str("tls-server-name"),
		cert: str("tls-cert"), key: str("tls-key"),
		minV: str("tls-min-version"), maxV: str("tls-max-version"),
		ciphers: str("tls-ciphers"), mech: str("auth"),
		user: str("auth-user"), pass: str("auth-password"),
		env: str("auth-password-env"), passFile: str("auth-password-file"),
	}
}

// security converts and checks the TLS and AUTH options.
func (o *options) security(set *getopt.Set, f *secFlags) error {
	s := &o.sec
	s.ehlo, s.smtps, s.verify, s.resume = *f.ehlo, *f.smtps, *f.verify,
		*f.resume
	s.ca, s.serverName, s.cert, s.key = *f.ca, *f.serverName, *f.cert,
		*f.key

	if err := s.tlsOptions(set, f); err != nil {
		return err
	}
	if err := s.authOptions(set, f); err != nil {
		return err
	}
	return o.checkSecurity(set)
}

// tlsOptions converts the versions and cipher suites.
func (s *secOptions) tlsOptions(set *getopt.Set, f *secFlags) error {
	var err error
	if set.IsSet("tls-min-version") {
		if s.minVersion, err = parseTLSVersion("min", *f.minV); err != nil {
			return err
		}
	}
	if set.IsSet("tls-max-version") {
		if s.maxVersion, err = parseTLSVersion("max", *f.maxV); err != nil {
			return err
		}
	}
	if s.minVersion != 0 && s.maxVersion != 0 &&
		s.minVersion > s.maxVersion {
		return usagef("--tls-min-version %s is above --tls-max-version %s",
			*f.minV, *f.maxV)
	}
	if set.IsSet("tls-ciphers") {
		if s.ciphers, err = parseCiphers(*f.ciphers); err != nil {
			return err
		}
	}
	if (s.cert == "") != (s.key == "") {
		return usagef("give both --tls-cert and --tls-key, or neither")
	}
	if s.ca != "" && !s.verify {
		return usagef("--tls-ca needs --tls-verify")
	}
	return nil
}

// tlsVersions are the versions --tls-min-version and --tls-max-version
// take.
var tlsVersions = map[string]uint16{
	"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

func parseTLSVersion(which, v string) (uint16, error) {
	ver, ok := tlsVersions[strings.TrimPrefix(strings.ToLower(v), "tls")]
	if !ok {
		return 0, usagef("bad --tls-%s-version: %q (want 1.0, 1.1, 1.2 "+
			"or 1.3)", which, v)
	}
	return ver, nil
}

// parseCiphers reads a list of TLS 1.2 (and older) cipher suite names,
// as crypto/tls names them, separated by commas or colons.
func parseCiphers(list string) ([]uint16, error) {
	known := map[string]*tls.CipherSuite{}
	for _, cs := range append(tls.CipherSuites(),
		tls.InsecureCipherSuites()...) {
		known[cs.Name] = cs
	}

	var ids []uint16
	for name := range strings.FieldsFuncSeq(list, func(r rune) bool {
		return r == ',' || r == ':'
	}) {
		cs, ok := known[name]
		switch {
		case !ok:
			return nil, usagef("bad --tls-ciphers: unknown cipher "+
				"suite %q", name)
		case slices.Equal(cs.SupportedVersions,
			[]uint16{tls.VersionTLS13}):
			return nil, usagef("bad --tls-ciphers: %s is a TLS 1.3 "+
				"suite; those cannot be chosen", name)
		}
		ids = append(ids, cs.ID)
	}
	if len(ids) == 0 {
		return nil, usagef("bad --tls-ciphers: empty list")
	}
	return ids, nil
}

// authOptions converts the AUTH options.
func (s *secOptions) authOptions(set *getopt.Set, f *secFlags) error {
	given := 0
	for _, name := range []string{"auth-password", "auth-password-env",
		"auth-password-file"} {
		if set.IsSet(name) {
			given++
		}
	}
	s.authUser = *f.user
	s.password, s.passwordEnv, s.passwordFile = *f.pass, *f.env,
		*f.passFile
	switch {
	case !set.IsSet("auth-user"):
		if given > 0 || set.IsSet("auth") {
			return usagef("AUTH options need --auth-user")
		}
		return nil
	case s.authUser == "":
		return usagef("bad --auth-user: empty")
	case given == 0:
		return usagef("--auth-user needs a password: --auth-password, " +
			"--auth-password-env or --auth-password-file")
	case given > 1:
		return usagef("give only one of --auth-password, " +
			"--auth-password-env and --auth-password-file")
	}

	mech := strings.ToUpper(*f.mech)
	switch {
	case mech == "" || mech == "AUTO":
	case slices.Contains(smtp.Mechanisms, mech):
		s.authMech = mech
	default:
		return usagef("bad --auth mechanism: %q (want plain, login, "+
			"cram-md5, xoauth2 or auto)", *f.mech)
	}
	return nil
}

// checkSecurity refuses combinations that cannot work.
func (o *options) checkSecurity(set *getopt.Set) error {
	s := &o.sec
	switch {
	case s.smtps && o.starttls != "":
		return usagef("--smtps and --starttls cannot be used together")
	case o.oldMode && (o.starttls != "" || s.ehlo || s.authUser != ""):
		return usagef("-o sends no HELO: it cannot be used with " +
			"--starttls, --ehlo or --auth-user")
	}
	if s.smtps || o.starttls != "" {
		return nil
	}
	for _, name := range tlsFlagNames {
		if set.IsSet(name) {
			return usagef("--%s needs --starttls or --smtps", name)
		}
	}
	return nil
}

// tlsConfig builds the client TLS configuration for the target host:
// no verification unless --tls-verify, as suits load tests. It reads
// the --tls-ca and client certificate files.
func (s *secOptions) tlsConfig(host string) (*tls.Config, error) {
	cfg := &tls.Config{
		InsecureSkipVerify: !s.verify,
		ServerName:         host,
		MinVersion:         s.minVersion,
		MaxVersion:         s.maxVersion,
		CipherSuites:       s.ciphers,
	}
	if s.serverName != "" {
		cfg.ServerName = s.serverName
	}
	if s.verify && cfg.ServerName == "" {
		return nil, fmt.Errorf("--tls-verify needs --tls-server-name " +
			"for this target")
	}
	if s.ca != "" {
		pem, err := os.ReadFile(s.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s",
				s.ca)
		}
	}
	if s.cert != "" {
		cert, err := tls.LoadX509KeyPair(s.cert, s.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if s.resume {
		// One cache for every session: each resumes what another
		// left (a session per server name or address).
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	return cfg, nil
}

// auth returns how sessions authenticate, nil for not at all. It reads
// the password from the environment or its file.
func (s *secOptions) auth() (*load.Auth, error) {
	if s.authUser == "" {
		return nil, nil
	}
	pw := s.password
	switch {
	case s.passwordEnv != "":
		v, ok := os.LookupEnv(s.passwordEnv)
		if !ok || v == "" {
			return nil, fmt.Errorf("--auth-password-env: %s is not set "+
				"or empty", s.passwordEnv)
		}
		pw = v
	case s.passwordFile != "":
		b, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--auth-password-file: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			return nil, fmt.Errorf("--auth-password-file: %s is empty",
				s.passwordFile)
		}
	}
	return &load.Auth{Mech: s.authMech,
		Credentials: smtp.Credentials{User: s.authUser, Secret: pw}}, nil
}

// secure builds the TLS configuration and the AUTH settings, reading
// the files and the environment variable they name.
func (o *options) secure() (*tls.Config, *load.Auth, error) {
	t, err := target.Parse(o.target)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := o.sec.tlsConfig(t.Host)
	if err != nil {
		return nil, nil, err
	}
	auth, err := o.sec.auth()
	if err != nil {
		return nil, nil, err
	}
	return cfg, auth, nil
}

// redactArgs returns args with the value of --auth-password replaced,
// for the result document, which keeps the command line.
func redactArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		switch {
		case a == "--":
			return out
		case a == "--auth-password" && i+1 < len(out):
			out[i+1] = smtp.Redacted
		case strings.HasPrefix(a, "--auth-password="):
			out[i] = "--auth-password=" + smtp.Redacted
		}
	}
	return out
}
