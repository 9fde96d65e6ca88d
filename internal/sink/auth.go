package sink

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Replies of real AUTH, with the codes of RFC 4954 sections 4 and 6.
const (
	replyAuthOK       = "235 2.7.0 Authentication successful"
	replyAuthTwice    = "503 5.5.1 Error: already authenticated"
	replyAuthSyntax   = "501 5.5.4 Syntax: AUTH mechanism [initial-response]"
	replyAuthMech     = "504 5.5.4 Unrecognized authentication type"
	replyAuthInitial  = "501 5.5.4 Error: CRAM-MD5 takes no initial response"
	replyAuthTooLong  = "500 5.5.6 Authentication Exchange line is too long"
	replyAuthRequired = "530 5.7.0 Authentication required"
	replyAuthNeedTLS  = "538 5.7.11 Encryption required for requested" +
		" authentication mechanism"
)

// authError ends a SASL exchange with its reply.
type authError string

func (e authError) Error() string { return string(e) }

// The ways an exchange fails.
const (
	errAuthInvalid authError = "535 5.7.8 Authentication credentials invalid"
	errAuthCancel  authError = "501 5.7.0 Authentication cancelled"
	errAuthBase64  authError = "501 5.5.2 Cannot decode response"
)

// maxAuthLine bounds a SASL response line, CR LF included. RFC 4954
// section 4 deems 12288 octets enough for deployed mechanisms; the AUTH
// command line itself keeps smtp-sink's limit.
const maxAuthLine = 12288

// mechanism is a SASL mechanism the sink runs.
type mechanism uint8

const (
	mechNone mechanism = iota
	mechPlain
	mechLogin
	mechCRAMMD5
)

// authKeyword is the EHLO keyword of real AUTH.
const authKeyword = "AUTH PLAIN LOGIN CRAM-MD5"

// lookupMechanism finds a mechanism by name, ignoring case.
func lookupMechanism(name []byte) mechanism {
	switch {
	case equalFold(name, "plain"):
		return mechPlain
	case equalFold(name, "login"):
		return mechLogin
	case equalFold(name, "cram-md5"):
		return mechCRAMMD5
	}
	return mechNone
}

// auth runs AUTH against the user list (RFC 4954) and reports whether
// the session ends. Once authenticated, the session stays so until
// STARTTLS, through RSET and EHLO.
func (s *session) auth(args []byte) bool {
	f := bytes.Fields(args)
	var mech mechanism
	if len(f) > 0 {
		mech = lookupMechanism(f[0])
	}
	switch {
	case s.authed:
		s.reply(replyAuthTwice) // section 4: "MUST reject"
		return false
	case s.inMail:
		s.reply(replyTLSInMail) // section 4: not during a transaction
		return false
	case len(f) == 0 || len(f) > 2:
		s.reply(replyAuthSyntax)
		return false
	case s.cfg.AuthTLSOnly && !s.tls:
		s.reply(replyAuthNeedTLS)
		return false
	case mech == mechNone:
		s.reply(replyAuthMech)
		return false
	case mech == mechCRAMMD5 && len(f) == 2:
		s.reply(replyAuthInitial)
		return false
	}

	// The initial response points into the read buffer: decode it
	// before the exchange reads more.
	var initial []byte
	var err error
	if len(f) == 2 {
		initial, err = decodeInitial(f[1])
	}
	if err == nil {
		err = s.exchange(mech, initial, len(f) == 2)
	}
	return s.authDone(err)
}

// exchange runs one mechanism's challenges and checks the credentials.
func (s *session) exchange(mech mechanism, initial []byte,
	hasInitial bool) error {
	switch mech {
	case mechPlain:
		return s.plain(initial, hasInitial)
	case mechLogin:
		return s.login(initial, hasInitial)
	default:
		return s.cramMD5()
	}
}

// authDone replies to the end of an exchange, counts it, and reports
// whether the session ends: a read error, or a response line too long
// to find its end.
func (s *session) authDone(err error) bool {
	var ae authError
	switch {
	case err == nil:
		s.authed = true
		s.srv.auths.Add(1)
		s.reply(replyAuthOK)
	case errors.As(err, &ae):
		s.srv.authFails.Add(1)
		s.reply(string(ae))
	case errors.Is(err, errLineTooLong):
		s.srv.authFails.Add(1)
		s.log.Warn("authentication exchange line too long")
		s.reply(replyAuthTooLong)
		s.flushNow()
		return true
	default:
		s.readFailed(err)
		return true
	}
	return false
}

// plain runs PLAIN (RFC 4616): one message "authzid NUL authcid NUL
// passwd", as the initial response or after an empty challenge. An
// authorization identity other than the user's own is refused.
func (s *session) plain(msg []byte, has bool) error {
	if !has {
		var err error
		if msg, err = s.challenge(""); err != nil {
			return err
		}
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return errAuthInvalid
	}
	authz, user, pass := parts[0], parts[1], parts[2]
	if len(authz) > 0 && !bytes.Equal(authz, user) {
		return errAuthInvalid
	}
	return s.checkPassword(user, pass)
}

// login runs LOGIN (draft-murchison-sasl-login): the user name, which
// may come as the initial response, then the password.
func (s *session) login(user []byte, has bool) error {
	var err error
	if !has {
		if user, err = s.challenge("Username:"); err != nil {
			return err
		}
	}
	pass, err := s.challenge("Password:")
	if err != nil {
		return err
	}
	return s.checkPassword(user, pass)
}

// cramMD5 runs CRAM-MD5 (RFC 2195): the client answers a unique
// challenge with its user name, a space and the hex HMAC-MD5 of the
// challenge keyed with the password.
func (s *session) cramMD5() error {
	chal := fmt.Sprintf("<%d.%d@%s>", rand.Uint64(), time.Now().Unix(),
		s.cfg.Hostname)
	resp, err := s.challenge(chal)
	if err != nil {
		return err
	}
	i := bytes.LastIndexByte(resp, ' ')
	if i < 0 {
		return errAuthInvalid
	}
	user, digest := resp[:i], bytes.ToLower(resp[i+1:])
	pass, ok := s.cfg.Users[string(user)]
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write([]byte(chal))
	want := hex.AppendEncode(nil, mac.Sum(nil))
	if !ok || !hmac.Equal(want, digest) {
		return errAuthInvalid
	}
	return nil
}

// checkPassword compares in constant time, so that the time taken
// tells nothing of how much of the password was right.
func (s *session) checkPassword(user, pass []byte) error {
	want, ok := s.cfg.Users[string(user)]
	if subtle.ConstantTimeCompare([]byte(want), pass) != 1 || !ok {
		return errAuthInvalid
	}
	return nil
}

// challenge sends a 334 reply with c in base64, reads the client's
// response line and returns it decoded (RFC 4954 section 4). A "*"
// cancels the exchange. The 334 goes out when the input runs dry, as
// every reply does.
func (s *session) challenge(c string) ([]byte, error) {
	s.reply("334 " + base64.StdEncoding.EncodeToString([]byte(c)))
	line, err := s.readLine(maxAuthLine)
	if err != nil {
		return nil, err
	}
	if s.cfg.Verbose {
		s.log.Info(redactResponse(line))
	}
	if string(line) == "*" {
		return nil, errAuthCancel
	}
	b, err := base64.StdEncoding.DecodeString(string(line))
	if err != nil {
		return nil, errAuthBase64
	}
	return b, nil
}

// decodeInitial decodes the initial response of AUTH, where a lone "="
// stands for an empty response (RFC 4954 section 4).
func decodeInitial(arg []byte) ([]byte, error) {
	if string(arg) == "=" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(string(arg))
	if err != nil {
		return nil, errAuthBase64
	}
	return b, nil
}

// redacted stands for the secrets left out of the logs.
const redacted = "[redacted]"

// knownMechanisms are mechanism names the logs keep after AUTH; any
// other word may be a secret, such as a LOGIN initial response.
var knownMechanisms = []string{"plain", "login", "cram-md5", "cram-sha1",
	"digest-md5", "scram-sha-1", "scram-sha-256", "xoauth2",
	"oauthbearer", "gssapi", "ntlm", "external", "anonymous"}

// redactAuth returns AUTH's arguments for the logs: the mechanism if it
// is a known one, and no initial response.
func redactAuth(args []byte) string {
	f := bytes.Fields(args)
	if len(f) == 0 {
		return ""
	}
	out := redacted
	for _, m := range knownMechanisms {
		if equalFold(f[0], m) {
			out = string(f[0])
			break
		}
	}
	if len(f) > 1 {
		out += " " + redacted
	}
	return out
}

// redactResponse returns a SASL response line for the logs: only a
// cancelling "*" is shown.
func redactResponse(line []byte) string {
	if string(line) == "*" {
		return "*"
	}
	return redacted
}
