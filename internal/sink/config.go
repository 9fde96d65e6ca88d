package sink

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
)

// Command names one SMTP command, or one of smtp-sink's two pseudo
// commands: "connect" (the greeting) and "." (the end of message data).
// The fault options -f -q -Q -r -s -W and --fault name commands.
type Command uint8

// The commands the server knows, in smtp-sink's table order; BDAT and
// STARTTLS are ours.
const (
	CmdConnect Command = iota
	CmdHelo
	CmdEhlo
	CmdLhlo
	CmdXclient
	CmdXforward
	CmdAuth
	CmdMail
	CmdRcpt
	CmdData
	CmdDot
	CmdRset
	CmdNoop
	CmdVrfy
	CmdQuit
	CmdBdat
	CmdStarttls
	numCommands
)

var commandNames = [numCommands]string{
	"connect", "helo", "ehlo", "lhlo", "xclient", "xforward", "auth",
	"mail", "rcpt", "data", ".", "rset", "noop", "vrfy", "quit", "bdat",
	"starttls",
}

// String returns the lower-case command name.
func (c Command) String() string {
	if c >= numCommands {
		return fmt.Sprintf("command(%d)", uint8(c))
	}
	return commandNames[c]
}

// ParseCommand looks a command name up, ignoring case.
func ParseCommand(name string) (Command, error) {
	for i, n := range commandNames {
		if strings.EqualFold(n, name) {
			return Command(i), nil
		}
	}
	return 0, fmt.Errorf("unknown command: %s", name)
}

// ParseCommands splits a list of command names separated by commas or
// white space, as smtp-sink's -f -q -Q -r -s options take them.
func ParseCommands(list string) ([]Command, error) {
	var cmds []Command
	sep := func(r rune) bool { return strings.ContainsRune(" \t\r\n,", r) }
	for _, name := range strings.FieldsFunc(list, sep) {
		c, err := ParseCommand(name)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// Action is a set of smtp-sink per-command fault flags. When several are
// set, the first in this order wins: Disconnect, Close, HardReject,
// SoftReject. Syslog combines with any of them.
type Action uint8

// The per-command flags.
const (
	ActSyslog     Action = 1 << iota // -s: log the command to syslog
	ActDisconnect                    // -q: hang up without a reply
	ActClose                         // -Q: reply 421 and hang up
	ActHardReject                    // -f: reply with Config.HardReply
	ActSoftReject                    // -r: reply with Config.SoftReply
)

// Delay holds smtp-sink's -W cmd:delay[:odds]: the reply waits Delay, or
// with Odds (1-99) a random multiple k of Delay, where k counts the
// rolls of a 100-sided die that came out below Odds (k may be 0).
type Delay struct {
	Delay time.Duration
	Odds  int
}

// DumpConfig selects smtp-sink's message dumps.
type DumpConfig struct {
	// PerMessage is -d: one file per transaction, named by expanding
	// the strftime(3) template at MAIL time and appending %08x.
	PerMessage string
	// Shared is -D: each finished transaction is appended to the file
	// named by expanding the strftime(3) template at MAIL time.
	Shared string
	// Prefix is -S after C escapes are undone: written at the top of
	// each dumped transaction.
	Prefix string
}

func (d DumpConfig) enabled() bool {
	return d.PerMessage != "" || d.Shared != ""
}

// Syslogger receives the lines of -s, one "command args" line each.
type Syslogger interface {
	Info(m string) error
}

// Config is everything a Server needs. The zero value of every field
// means smtp-sink's default; Hostname, SoftReply, HardReply, Timeout and
// MaxSessions are filled in by New when left empty.
type Config struct {
	// Hostname is -h: the name in the greeting, the HELO and EHLO
	// replies and the dump's Received: header ("smtp-sink").
	Hostname string

	// Dialect and announced extensions.
	LMTP             bool // -L: LHLO only, one reply per recipient at "."
	NoESMTP          bool // -e: no "ESMTP" in the banner, EHLO disabled
	PIX              bool // -P: banner "220 ********", implies NoESMTP
	NoPipelining     bool // -p (and implied by -f, -r)
	No8BitMIME       bool // -8
	NoAuth           bool // -a: AUTH stays enabled, unannounced
	NoXCLIENT        bool // -C: XCLIENT disabled
	NoXFORWARD       bool // -F: XFORWARD disabled
	NoEnhancedStatus bool // -E: only unannounced; replies keep them
	NoDSN            bool // -N

	// Rejects and faults.
	SoftReply string              // -b ("450 4.3.0 Error: command failed")
	HardReply string              // -B ("500 5.3.0 Error: command failed")
	Actions   [numCommands]Action // -f -q -Q -r -s
	Delays    [numCommands]Delay  // -W, -w
	Abort     bool                // -A given
	AbortWait time.Duration       // -A delay: 550 this long after 354
	DataWait  time.Duration       // -H: first data read waits this long
	Faults    []Fault             // --fault
	Seed      uint64              // --seed: faults and -W odds
	Syslog    Syslogger           // where -s lines go; nil drops them
	Dump      DumpConfig          // -d, -D, -S
	Timeout   time.Duration       // -t: idle read and write limit (100s)

	// Limits.
	MaxSessions int // -m: concurrent sessions (256)
	MaxMessages int // -M: stop after this many messages (0: never)
	MaxQuits    int // -n: stop after this many QUITs (0: never)

	// Output.
	Counter      io.Writer     // -c: smtp-sink's "sess= quit= mesg=\r"
	RateInterval time.Duration // -c: a rate line on the log this often
	Verbose      bool          // -v: connect, command lines, disconnect

	// Extensions beyond smtp-sink, all off by default.
	TLS         *tls.Config // certificate for STARTTLS and ImplicitTLS
	StartTLS    bool        // announce and accept STARTTLS
	ImplicitTLS bool        // every session starts with a TLS handshake
	Chunking    bool        // announce CHUNKING, accept BDAT
	MaxChunk    int64       // largest BDAT chunk taken (64 MiB)
	Size        bool        // announce SIZE MaxSize
	MaxSize     int64       // SIZE limit in bytes; 0 announces no limit
	SMTPUTF8    bool        // announce SMTPUTF8, keep UTF-8 in dumps

	// Delivery, when set, gets every message whose end of data is
	// accepted, to match its stamp (--delivery). Nil costs nothing.
	Delivery *delivery.Tracker

	// Real authentication (RFC 4954), beyond smtp-sink's fake. Without
	// Users, AUTH answers 250 with no SASL exchange, as in smtp-sink.
	Users        Users // PLAIN, LOGIN and CRAM-MD5 against these
	AuthRequired bool  // MAIL before a successful AUTH gets 530
	AuthTLSOnly  bool  // AUTH offered and taken only under TLS
}

// Defaults of smtp-sink.
const (
	DefaultHostname    = "smtp-sink"
	DefaultSoftReply   = "450 4.3.0 Error: command failed"
	DefaultHardReply   = "500 5.3.0 Error: command failed"
	DefaultTimeout     = 100 * time.Second
	DefaultMaxSessions = 256
	DefaultMaxChunk    = 64 << 20
)

// withDefaults fills in the defaults and checks the fields New relies on.
func (c Config) withDefaults() (Config, error) {
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	if c.SoftReply == "" {
		c.SoftReply = DefaultSoftReply
	}
	if c.HardReply == "" {
		c.HardReply = DefaultHardReply
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxChunk <= 0 {
		c.MaxChunk = DefaultMaxChunk
	}
	if c.PIX {
		c.NoESMTP = true
	}
	if c.Dump.PerMessage != "" && c.Dump.Shared != "" {
		return c, fmt.Errorf("use only one of -d or -D, but not both")
	}
	if (c.StartTLS || c.ImplicitTLS) && c.TLS == nil {
		return c, fmt.Errorf("tls: no certificate configured")
	}
	if err := c.checkAuth(); err != nil {
		return c, err
	}
	if err := checkReply(c.SoftReply, '4'); err != nil {
		return c, fmt.Errorf("bad soft error reply: %s", c.SoftReply)
	}
	if err := checkReply(c.HardReply, '5'); err != nil {
		return c, fmt.Errorf("bad hard error reply: %s", c.HardReply)
	}
	return c, nil
}

// checkAuth checks that the authentication options have what they
// need: a user list, and TLS for AuthTLSOnly.
func (c *Config) checkAuth() error {
	switch {
	case c.AuthRequired && c.Users == nil:
		return fmt.Errorf("auth required: no users configured")
	case c.AuthTLSOnly && c.Users == nil:
		return fmt.Errorf("auth only under TLS: no users configured")
	case c.AuthTLSOnly && !c.StartTLS && !c.ImplicitTLS:
		return fmt.Errorf("auth only under TLS: TLS is not enabled")
	}
	return nil
}

// checkReply applies smtp-sink's test for -b and -B: the reply starts
// with the class digit and with exactly three digits.
func checkReply(r string, class byte) error {
	n := 0
	for n < len(r) && r[n] >= '0' && r[n] <= '9' {
		n++
	}
	if len(r) == 0 || r[0] != class || n != 3 {
		return fmt.Errorf("bad reply: %q", r)
	}
	return nil
}
