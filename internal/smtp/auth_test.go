package smtp

import (
	"encoding/base64"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
)

// The credentials of RFC 2195's CRAM-MD5 example, used for every
// mechanism, and its challenge and response.
const (
	user      = "tim"
	secret    = "tanstaaftanstaaf"
	cramChall = "<1896.697170952@postoffice.reston.mci.net>"
	cramResp  = "tim b913a602c7eda7a495b4e6e7334d3890"
)

func b64(s string) string {
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// authHello is the start of every AUTH script.
const authHello = `S 220 mx.example.com ESMTP
C EHLO client.example.com
S 250-mx.example.com\r\n250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2
`

// authQuit is the end of every AUTH script.
const authQuit = `C QUIT
S 221 Bye
CLOSE
`

// TestAuth drives each mechanism through a scripted server that checks
// every line the client sends, and checks that the trace shows neither
// the secret nor any encoding of what carries it.
func TestAuth(t *testing.T) {
	q := regexp.QuoteMeta
	xoauth := "user=" + user + "\x01auth=Bearer " + secret + "\x01\x01"
	tests := []struct {
		name   string
		mech   string
		script string
		code   int
		err    error
	}{
		{"plain", MechPlain, "C AUTH PLAIN " +
			q(b64("\x00"+user+"\x00"+secret)) + "\nS 235 2.7.0 ok\n",
			235, nil},
		{"plain-refused", MechPlain, "C AUTH PLAIN .*\n" +
			"S 535 5.7.8 Error: authentication failed\n", 535, nil},
		{"login", MechLogin, "C AUTH LOGIN\nS 334 " + b64("Username:") +
			"\nC " + q(b64(user)) + "\nS 334 " + b64("Password:") +
			"\nC " + q(b64(secret)) + "\nS 235 2.7.0 ok\n", 235, nil},
		{"cram-md5", MechCRAMMD5, "C AUTH CRAM-MD5\nS 334 " +
			b64(cramChall) + "\nC " + q(b64(cramResp)) +
			"\nS 235 2.7.0 ok\n", 235, nil},
		{"xoauth2", MechXOAuth2, "C AUTH XOAUTH2 " + q(b64(xoauth)) +
			"\nS 235 2.7.0 ok\n", 235, nil},
		// A refused token: the JSON error comes as a challenge, an
		// empty line answers it, then the final reply.
		{"xoauth2-refused", MechXOAuth2, "C AUTH XOAUTH2 .*\nS 334 " +
			b64(`{"status":"401"}`) + "\nC .{0}\nS 535 5.7.8 no\n", 535,
			nil},
		// A challenge that is not base64 is cancelled with "*".
		{"bad-challenge", MechLogin, "C AUTH LOGIN\nS 334 !!!\n" +
			"C \\*\nS 501 5.7.0 cancelled\n", 0, ErrAuthExchange},
		// One challenge too many is cancelled too.
		{"extra-challenge", MechPlain, "C AUTH PLAIN .*\nS 334 \n" +
			"C \\*\nS 501 5.7.0 cancelled\n", 0, ErrAuthExchange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startScript(t, authHello+tt.script+authQuit)
			c, trace := dialTraced(t, srv.Addr)
			if _, err := c.Banner(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Hello("EHLO", "client.example.com"); err != nil {
				t.Fatal(err)
			}
			r, err := c.Auth(tt.mech, Credentials{user, secret})
			if !errors.Is(err, tt.err) || r.Code != tt.code {
				t.Errorf("Auth = %d, %v; want %d, %v", r.Code, err,
					tt.code, tt.err)
			}
			c.Quit()
			c.Close()
			srv.Check(t)
			checkRedacted(t, trace.String())
		})
	}
}

// checkRedacted fails when the trace shows the secret, in clear or in
// any of the encodings the exchanges carry it in.
func checkRedacted(t *testing.T, trace string) {
	t.Helper()
	for _, s := range []string{secret, b64(secret),
		b64("\x00" + user + "\x00" + secret), b64(cramResp),
		b64("user=" + user + "\x01auth=Bearer " + secret + "\x01\x01")} {
		if strings.Contains(trace, s) {
			t.Errorf("trace shows %q:\n%s", s, trace)
		}
	}
}

// TestAuthTraceShowsTheVerb: the trace keeps what reveals nothing (the
// verb and mechanism, the server's challenges) and marks what it hides.
func TestAuthTraceShowsTheVerb(t *testing.T) {
	srv := startScript(t, authHello+"C AUTH LOGIN\nS 334 "+
		b64("Username:")+"\nC .*\nS 334 "+b64("Password:")+
		"\nC .*\nS 235 2.7.0 ok\n"+authQuit)
	c, trace := dialTraced(t, srv.Addr)
	c.Banner()
	c.Hello("EHLO", "client.example.com")
	if r, err := c.Auth("login", Credentials{user, secret}); err != nil ||
		r.Code != 235 {
		t.Fatalf("Auth = %d, %v", r.Code, err)
	}
	c.Quit()
	c.Close()
	srv.Check(t)

	want := "> AUTH LOGIN\n< 334 " + b64("Username:") + "\n> " +
		Redacted + "\n< 334 " + b64("Password:") + "\n> " + Redacted +
		"\n< 235 2.7.0 ok\n"
	if got := trace.String(); !strings.Contains(got, want) {
		t.Errorf("trace:\n%s\nwant it to hold:\n%s", got, want)
	}
}

func TestChooseMechanism(t *testing.T) {
	tests := []struct{ offered, want string }{
		{"PLAIN LOGIN", MechPlain},
		{"login cram-md5", MechLogin},
		{"DIGEST-MD5 CRAM-MD5", MechCRAMMD5},
		{"XOAUTH2 GSSAPI", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ChooseMechanism(tt.offered); got != tt.want {
			t.Errorf("ChooseMechanism(%q) = %q, want %q", tt.offered,
				got, tt.want)
		}
	}
}

// traceBuf collects a Conn's trace, "> " for commands and "< " for
// reply lines.
type traceBuf struct{ strings.Builder }

func dialTraced(t *testing.T, addr string) (*Conn, *traceBuf) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tb := &traceBuf{}
	opt := &Options{ReplyTimeout: 5 * time.Second,
		BannerTimeout: 5 * time.Second,
		Trace: func(out bool, line []byte) {
			if out {
				tb.WriteString("> ")
			} else {
				tb.WriteString("< ")
			}
			tb.Write(line)
			tb.WriteByte('\n')
		}}
	return NewConn(nc, opt), tb
}

func startScript(t *testing.T, script string) *scripttest.Server {
	t.Helper()
	s, err := scripttest.Parse([]byte(script))
	if err != nil {
		t.Fatalf("bad script: %v\n%s", err, script)
	}
	return scripttest.Start(t, s, scripttest.WaitLimit(5*time.Second))
}
