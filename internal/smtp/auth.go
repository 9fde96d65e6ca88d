package smtp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The SASL mechanisms Auth speaks.
const (
	MechPlain   = "PLAIN"    // RFC 4616
	MechLogin   = "LOGIN"    // draft-murchison-sasl-login
	MechCRAMMD5 = "CRAM-MD5" // RFC 2195
	MechXOAuth2 = "XOAUTH2"  // Google's and Microsoft's OAuth 2.0 bearer
)

// Mechanisms lists the mechanisms Auth speaks.
var Mechanisms = []string{MechPlain, MechLogin, MechCRAMMD5, MechXOAuth2}

// autoMechanisms are the mechanisms ChooseMechanism picks from, fewest
// round trips first. XOAUTH2 is left out: its secret is a token, not a
// password, so it is only used when asked for by name.
var autoMechanisms = []string{MechPlain, MechLogin, MechCRAMMD5}

// Credentials are what a client authenticates with.
type Credentials struct {
	User string
	// Secret is the password, or for XOAUTH2 the OAuth 2.0 access
	// token.
	Secret string
}

// Redacted stands in the trace for what would reveal credentials: the
// initial response of AUTH and every client line of the exchange.
const Redacted = "[redacted]"

// ErrAuthExchange reports a server that broke the SASL exchange: a
// challenge that is not base64, or more challenges than the mechanism
// has answers for. The client cancels the exchange with "*" first.
var ErrAuthExchange = errors.New("bad SASL exchange")

// ChooseMechanism picks a mechanism from offered, the parameters of the
// EHLO AUTH keyword ("PLAIN LOGIN CRAM-MD5"), or returns "" when none
// of PLAIN, LOGIN and CRAM-MD5 is offered.
func ChooseMechanism(offered string) string {
	for _, m := range autoMechanisms {
		if Offers(offered, m) {
			return m
		}
	}
	return ""
}

// Offers reports whether offered, the parameters of the EHLO AUTH
// keyword, lists mech. SASL mechanism names are case-insensitive.
func Offers(offered, mech string) bool {
	for _, m := range strings.Fields(offered) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// Auth authenticates with mech and cr (RFC 4954), as one step of phase
// auth. It returns the final reply: 235 on success, a negative reply
// when the server refused, with a nil error either way. The error is an
// *IOError for a transport failure, or wraps ErrAuthExchange.
//
// The trace shows the AUTH command's initial response and every line
// the client sends during the exchange as Redacted; the server's
// challenges, which hold no secret, are shown as they are.
func (c *Conn) Auth(mech string, cr Credentials) (Reply, error) {
	start := time.Now()
	r, err := c.auth(strings.ToUpper(mech), cr)
	c.observe(PhaseAuth, start, r, err)
	return r, err
}

// https://www.rfc-editor.org/rfc/rfc4954#section-4
func (c *Conn) auth(mech string, cr Credentials) (Reply, error) {
	ir, err := saslResponse(mech, cr, 0, nil)
	if err != nil {
		return Reply{}, err
	}

	// A zero-length initial response is sent as "=" (RFC 4954,
	// section 4); none at all as nothing.
	c.wbuf = append(append(c.wbuf[:0], "AUTH "...), mech...)
	shown := len(c.wbuf)
	if ir != nil {
		c.wbuf = append(c.wbuf, ' ')
		if len(ir) == 0 {
			c.wbuf = append(c.wbuf, '=')
		}
		c.wbuf = base64.StdEncoding.AppendEncode(c.wbuf, ir)
	}
	r, err := c.secretRoundTrip(shown)

	for step := 1; err == nil && r.Code == 334; step++ {
		challenge, derr := base64.StdEncoding.DecodeString(
			firstLine(r.Text))
		if derr != nil {
			return c.cancelAuth(fmt.Errorf("%w: challenge is not "+
				"base64", ErrAuthExchange))
		}
		resp, rerr := saslResponse(mech, cr, step, challenge)
		if rerr != nil {
			return c.cancelAuth(rerr)
		}
		c.wbuf = base64.StdEncoding.AppendEncode(c.wbuf[:0], resp)
		r, err = c.secretRoundTrip(0)
	}
	return r, err
}

// secretRoundTrip sends the line in c.wbuf and reads the reply, as
// roundTrip does, but the trace sees only the first shown bytes of the
// line followed by Redacted (all of it when nothing follows them).
func (c *Conn) secretRoundTrip(shown int) (Reply, error) {
	if c.opt.Trace != nil {
		line := c.wbuf[:shown:shown]
		if len(c.wbuf) > shown {
			if shown > 0 {
				line = append(line, ' ')
			}
			line = append(line, Redacted...)
		}
		c.opt.Trace(true, line)
	}
	c.wbuf = append(c.wbuf, '\r', '\n')
	c.deadline(time.Now(), c.opt.ReplyTimeout)
	if err := c.write(c.wbuf); err != nil {
		return Reply{}, ioError(PhaseAuth, err)
	}
	return c.read(PhaseAuth)
}

// cancelAuth ends an exchange the client cannot go on with: it sends
// "*", which the server must answer with 501 (RFC 4954, section 4), and
// returns why, or the transport failure if that came first.
func (c *Conn) cancelAuth(why error) (Reply, error) {
	c.wbuf = append(c.wbuf[:0], '*')
	if _, err := c.roundTrip(PhaseAuth, time.Now()); err != nil {
		return Reply{}, err
	}
	return Reply{}, why
}

// firstLine returns the text of a reply's first line.
func firstLine(text []byte) string {
	s := string(text)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// saslResponse returns the client's message number step of mech's
// exchange: step 0 is the initial response (nil when the mechanism
// sends none), each later step the answer to the server's challenge.
func saslResponse(mech string, cr Credentials, step int,
	challenge []byte) ([]byte, error) {

	switch {
	case mech == MechPlain && step == 0:
		// https://www.rfc-editor.org/rfc/rfc4616#section-2: an empty
		// authorization identity, then the user and the password.
		return []byte("\x00" + cr.User + "\x00" + cr.Secret), nil
	case mech == MechLogin && step == 1:
		return []byte(cr.User), nil
	case mech == MechLogin && step == 2:
		return []byte(cr.Secret), nil
	case mech == MechCRAMMD5 && step == 1:
		// https://www.rfc-editor.org/rfc/rfc2195#section-2
		h := hmac.New(md5.New, []byte(cr.Secret))
		h.Write(challenge)
		return []byte(cr.User + " " + hex.EncodeToString(h.Sum(nil))),
			nil
	case mech == MechXOAuth2 && step == 0:
		return []byte("user=" + cr.User + "\x01auth=Bearer " +
			cr.Secret + "\x01\x01"), nil
	case mech == MechXOAuth2 && step == 1:
		// The challenge is the server's JSON error; an empty answer
		// gets the final (negative) reply.
		return []byte{}, nil
	case step == 0 && (mech == MechLogin || mech == MechCRAMMD5):
		return nil, nil
	case step == 0:
		return nil, fmt.Errorf("unsupported AUTH mechanism %s", mech)
	}
	return nil, fmt.Errorf("%w: unexpected challenge %d for %s",
		ErrAuthExchange, step, mech)
}
