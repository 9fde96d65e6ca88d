package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/runid"
	"github.com/go-smtp-source/go-smtp-source/internal/sink"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// options is the parsed command line.
type options struct {
	cfg     sink.Config
	family  target.Family
	window  int    // -T
	root    string // -R
	user    string // -u
	syslog  bool   // -s given
	counter bool   // -c
	listen  string
	backlog int
	tlsCert string
	tlsKey  string
	users   string // --auth-users
	noSum   bool
	out     string // --out: the delivery result document
	runID   string // --run-id
	deliver bool   // --delivery, or implied by --out or --run-id
	help    bool
	errs    []string // msg_error lines printed before the usage
}

// errUsage asks for smtp-sink's usage line as a fatal error.
var errUsage = errors.New("usage")

// usageLine is smtp-sink's usage message with our name.
func usageLine(prog string) string {
	return "usage: " + prog + " [-468acCeEFLpPv] [-A abort_delay]" +
		" [-b soft_bounce_reply] [-B hard_bounce_reply]" +
		" [-d dump-template] [-D dump-template] [-f commands]" +
		" [-h hostname] [-m max_concurrency] [-M message_quit_count]" +
		" [-n quit_count] [-q commands] [-r commands] [-R root-dir]" +
		" [-s commands] [-S start-string] [-u user_privs] [-w delay]" +
		" [host]:port backlog"
}

// shortWithArg are smtp-sink's options that take an argument.
const shortWithArg = "AbBdDfhHmMnqQrRsStTuwW"

// shortFlags are smtp-sink's options without an argument.
const shortFlags = "468aCcEeFLNpPv"

// parseOptions reads argv the way smtp-sink's getopt(3) loop does, one
// option at a time in order, with GNU getopt's permutation: options may
// follow the two arguments. A getopt error comes back as a
// *getopt.Error, a bad value as errUsage or a fatal error's text; the
// options are returned in every case, for their errs.
func parseOptions(argv []string) (*options, error) {
	o := &options{}
	set := newSet()
	var perr error
	fn := func(opt getopt.Option) bool {
		perr = o.apply(opt)
		return perr == nil
	}

	args := argv
	var operands []string
	for {
		if err := set.Getopt(args, fn); err != nil {
			return o, err
		}
		if perr != nil {
			return o, perr
		}
		rest := set.Args()
		if set.State() == getopt.DashDash || len(rest) == 0 {
			operands = append(operands, rest...)
			break
		}
		operands = append(operands, rest[0])
		args = append([]string{argv[0]}, rest[1:]...)
	}
	if o.help {
		return o, nil
	}
	return o, o.finish(operands)
}

// newSet declares every option with getopt. Values are read from each
// option as it is parsed, so that repeated options all count.
func newSet() *getopt.Set {
	set := getopt.New()
	for _, c := range shortWithArg {
		set.Flag(new(string), c)
	}
	for _, c := range shortFlags {
		set.Flag(new(bool), c)
	}
	for _, name := range longWithArg {
		set.FlagLong(new(string), name, 0)
	}
	for _, name := range longFlags {
		set.FlagLong(new(bool), name, 0)
	}
	return set
}

// Our long options, with and without an argument.
var (
	longWithArg = []string{"tls-cert", "tls-key", "fault", "seed",
		"max-size", "max-chunk", "auth-users", "out", "run-id"}
	longFlags = []string{"help", "starttls", "smtps", "chunking",
		"smtputf8", "no-summary", "auth-required", "auth-tls-only",
		"delivery"}
)

// apply handles one option as it comes.
func (o *options) apply(opt getopt.Option) error {
	if name := opt.LongName(); name != "" && opt.ShortName() == "" {
		return o.applyLong(name, opt.String())
	}
	name, arg := opt.ShortName(), opt.String()
	if p := o.flags()[name]; p != nil {
		*p = true
		return nil
	}
	if set, ok := o.counts()[name]; ok {
		return positive(arg, set.what, set.set)
	}

	c := &o.cfg
	switch name {
	case "4":
		o.family = target.IPv4
	case "6":
		o.family = target.IPv6
	case "A":
		n, ok := cAtoi(arg)
		if !allDigits(arg) || !ok || n < 0 {
			return errUsage
		}
		c.Abort, c.AbortWait = true, time.Duration(n)*time.Second
	case "b", "B":
		return o.reply(name, arg)
	case "d":
		c.Dump.PerMessage = arg
	case "D":
		c.Dump.Shared = arg
	case "f":
		c.NoPipelining = true
		return o.action(arg, sink.ActHardReject)
	case "h":
		c.Hostname = arg
	case "P":
		c.PIX, c.NoESMTP = true, true
	case "q":
		return o.action(arg, sink.ActDisconnect)
	case "Q":
		return o.action(arg, sink.ActClose)
	case "r":
		c.NoPipelining = true
		return o.action(arg, sink.ActSoftReject)
	case "R":
		o.root = arg
	case "s":
		o.syslog = true
		return o.action(arg, sink.ActSyslog)
	case "S":
		c.Dump.Prefix = sink.Unescape(arg)
	case "u":
		o.user = arg
	case "w":
		n, _ := cAtoi(arg)
		if n <= 0 {
			return errUsage
		}
		c.Delays[sink.CmdData] = sink.Delay{
			Delay: time.Duration(n) * time.Second}
	case "W":
		return o.delay(arg)
	}
	return nil
}

// flags maps smtp-sink's options without argument to what they set.
func (o *options) flags() map[string]*bool {
	c := &o.cfg
	return map[string]*bool{
		"8": &c.No8BitMIME, "a": &c.NoAuth, "c": &o.counter,
		"C": &c.NoXCLIENT, "e": &c.NoESMTP, "E": &c.NoEnhancedStatus,
		"F": &c.NoXFORWARD, "L": &c.LMTP, "N": &c.NoDSN,
		"p": &c.NoPipelining, "v": &c.Verbose,
	}
}

// count is an option taking a count above zero.
type count struct {
	what string // the fatal error's words for a bad value
	set  func(int)
}

// counts maps smtp-sink's count options to where the count goes.
func (o *options) counts() map[string]count {
	c := &o.cfg
	secs := func(d *time.Duration) func(int) {
		return func(n int) { *d = time.Duration(n) * time.Second }
	}
	to := func(p *int) func(int) { return func(n int) { *p = n } }
	return map[string]count{
		"H": {"bad data read delay", secs(&c.DataWait)},
		"m": {"bad concurrency limit", to(&c.MaxSessions)},
		"M": {"bad message quit count", to(&c.MaxMessages)},
		"n": {"bad quit count", to(&c.MaxQuits)},
		"t": {"bad timeout", secs(&c.Timeout)},
		"T": {"bad TCP window size", to(&o.window)},
	}
}

// reply sets -b or -B after smtp-sink's check: the class digit, then
// exactly three digits.
func (o *options) reply(name, arg string) error {
	class, what, dst := byte('4'), "soft", &o.cfg.SoftReply
	if name == "B" {
		class, what, dst = '5', "hard", &o.cfg.HardReply
	}
	if !replyOK(arg, class) {
		o.errs = append(o.errs, "bad "+what+" error reply: "+arg)
		return errUsage
	}
	*dst = arg
	return nil
}

// applyLong handles our long options.
func (o *options) applyLong(name, arg string) error {
	c := &o.cfg
	var err error
	switch name {
	case "help":
		o.help = true
	case "starttls":
		c.StartTLS = true
	case "smtps":
		c.ImplicitTLS = true
	case "tls-cert":
		o.tlsCert = arg
	case "tls-key":
		o.tlsKey = arg
	case "chunking":
		c.Chunking = true
	case "smtputf8":
		c.SMTPUTF8 = true
	case "no-summary":
		o.noSum = true
	case "auth-users":
		o.users = arg
	case "auth-required":
		c.AuthRequired = true
	case "auth-tls-only":
		c.AuthTLSOnly = true
	case "max-size":
		c.Size = true
		c.MaxSize, err = strconv.ParseInt(arg, 10, 64)
		if err != nil || c.MaxSize < 0 {
			return fmt.Errorf("bad --max-size: %s", arg)
		}
	case "max-chunk":
		c.MaxChunk, err = strconv.ParseInt(arg, 10, 64)
		if err != nil || c.MaxChunk <= 0 {
			return fmt.Errorf("bad --max-chunk: %s", arg)
		}
	case "seed":
		c.Seed, err = strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return fmt.Errorf("bad --seed: %s", arg)
		}
	case "delivery":
		o.deliver = true
	case "out":
		if arg == "-" || arg == "" {
			// Standard output is -c's; a file named "-" would
			// surprise a user of go-smtp-source's --out -.
			return fmt.Errorf("bad --out: %q (want a file name)", arg)
		}
		o.out, o.deliver = arg, true
	case "run-id":
		if err := runid.Check(arg); err != nil {
			return fmt.Errorf("bad --run-id: %w", err)
		}
		o.runID, o.deliver = arg, true
	case "fault":
		f, err := sink.ParseFault(arg)
		if err != nil {
			return err
		}
		c.Faults = append(c.Faults, f)
	}
	return nil
}

// action sets a fault flag on a list of commands (-f -q -Q -r -s).
func (o *options) action(list string, a sink.Action) error {
	cmds, err := sink.ParseCommands(list)
	if err != nil {
		return err
	}
	for _, cmd := range cmds {
		o.cfg.Actions[cmd] |= a
	}
	return nil
}

// delay parses -W command:delay[:odds] as smtp-sink does, with
// strtok(3)-like fields and atoi(3) numbers.
func (o *options) delay(arg string) error {
	rest := arg
	name, ok1 := strtok(&rest, ":")
	delay, ok2 := strtok(&rest, ":")
	if !ok1 || !ok2 {
		return fmt.Errorf("invalid command delay argument: %s", arg)
	}
	cmd, err := sink.ParseCommand(name)
	if err != nil {
		return err
	}
	d, _ := cAtoi(delay)
	odds, _ := cAtoi(rest)
	if d <= 0 {
		return fmt.Errorf("non-positive '%s' delay", name)
	}
	if odds < 0 || odds > 99 {
		return fmt.Errorf("delay odds for '%s' out of range", name)
	}
	o.cfg.Delays[cmd] = sink.Delay{Delay: time.Duration(d) * time.Second,
		Odds: odds}
	return nil
}

// strtok is Postfix's mystrtok(3): skip separators, take a token, and
// leave *s after the one separator that ends it.
func strtok(s *string, sep string) (string, bool) {
	str := strings.TrimLeft(*s, sep)
	if str == "" {
		*s = ""
		return "", false
	}
	end := strings.IndexAny(str, sep)
	if end < 0 {
		*s = ""
		return str, true
	}
	*s = str[end+1:]
	return str[:end], true
}

// finish checks the operands and what needs all options seen.
func (o *options) finish(operands []string) error {
	if len(operands) != 2 {
		return errUsage
	}
	o.listen = operands[0]
	n, _ := cAtoi(operands[1])
	if n <= 0 {
		return errUsage
	}
	o.backlog = n
	if o.cfg.Dump.PerMessage != "" && o.cfg.Dump.Shared != "" {
		return errors.New("use only one of -d or -D, but not both")
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		if !o.cfg.ImplicitTLS {
			o.cfg.StartTLS = true
		}
	}
	if o.counter {
		o.cfg.RateInterval = time.Second
	}
	return o.checkAuth()
}

// checkAuth checks that the AUTH options have what they need, before
// anything is opened.
func (o *options) checkAuth() error {
	c := &o.cfg
	switch {
	case c.AuthRequired && o.users == "":
		return errors.New("--auth-required needs --auth-users")
	case c.AuthTLSOnly && o.users == "":
		return errors.New("--auth-tls-only needs --auth-users")
	case c.AuthTLSOnly && !c.StartTLS && !c.ImplicitTLS:
		return errors.New("--auth-tls-only needs --starttls or --smtps")
	}
	return nil
}

// positive reads a count that must be above zero, or fails with what.
func positive(arg, what string, set func(int)) error {
	n, _ := cAtoi(arg)
	if n <= 0 {
		return fmt.Errorf("%s: %s", what, arg)
	}
	set(n)
	return nil
}

// cAtoi is C's atoi(3): leading blanks, a sign, then digits up to the
// first non-digit. ok is false when no digit was found.
func cAtoi(s string) (int, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n, digits := 0, 0
	for ; digits < len(s) && s[digits] >= '0' && s[digits] <= '9'; digits++ {
		if n < 1<<31 {
			n = n*10 + int(s[digits]-'0')
		}
	}
	if neg {
		n = -n
	}
	return n, digits > 0
}

// allDigits is Postfix's alldig(3): not empty, digits only.
func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// replyOK is smtp-sink's test for -b and -B.
func replyOK(r string, class byte) bool {
	n := 0
	for n < len(r) && r[n] >= '0' && r[n] <= '9' {
		n++
	}
	return len(r) > 0 && r[0] == class && n == 3
}
