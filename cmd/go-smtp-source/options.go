package main

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pborman/getopt/v2"
)

// options is the command line, parsed but not yet checked against the
// world (files, names, addresses).
type options struct {
	ipv4, ipv6    bool
	allowReject   bool
	counter       int
	connects      int
	keepOpen      bool
	sender        *string // nil: foo@myhostname
	file          string
	fileSet       bool // -F given, even as "" (which cannot be opened)
	length        int
	lmtp          bool
	messages      int64
	hostname      string
	numbered      bool
	oldMode       bool
	recipients    int
	rcptSet       bool
	randomDelay   int
	sessions      int
	subject       *string
	recipient     *string
	windowSize    int
	verbose       int
	fixedDelay    int
	target        string
	starttls      string // "", "required" or "opportunistic"
	rate          float64
	numbering     string
	fileCompat    bool
	connectTO     time.Duration
	connectLimit  int // connects in progress at once; 0: no limit
	bannerTO      time.Duration
	replyTO       time.Duration
	seed          uint64
	seedSet       bool
	noSummary     bool
	cpuProfile    string
	out           string
	metricsAddr   string
	linger        time.Duration
	duration      time.Duration
	maxLateness   time.Duration
	noMetrics     bool
	sec           secOptions
	ext           extOptions
	dist          distOptions
	args          []string // as given, for the result document
	help, version bool
}

// usageError is a command line that cannot be run; its text is the
// one-line reason.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// legacyFlags maps the single-dash long flags of the earlier Go tool of
// this name onto ours, before getopt sees them (getopt would read "-tls"
// as "-t ls").
var legacyFlags = map[string]string{
	"-tls":          "--starttls",
	"-resolve-once": "--resolve-once",
}

func rewriteLegacy(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if long, ok := legacyFlags[a]; ok {
			a = long
		}
		out = append(out, a)
	}
	return out
}

// parseArgs parses args (without the program name). Its errors are one
// line: control characters of args they quote become '?', as Postfix's
// msg(3) prints them.
func parseArgs(prog string, args []string) (_ *options, err error) {
	defer func() {
		if err != nil {
			err = errors.New(printable(err.Error()))
		}
	}()
	o := &options{}
	set := getopt.New()
	set.SetProgram(prog)

	// Values are kept as strings and converted here, so that every bad
	// value gets smtp-source's wording ("bad message count: x").
	str := func(short rune, long string) *string {
		if short == 0 {
			return set.StringLong(long, 0, "")
		}
		return set.StringLong(long, short, "")
	}
	flag := func(short rune, long string) *bool {
		return set.BoolLong(long, short)
	}

	ipv4 := flag('4', "")
	ipv6 := flag('6', "")
	allow := flag('A', "")
	counter := set.CounterLong("", 'c')
	connects := str('C', "")
	keep := flag('d', "")
	from := str('f', "")
	file := str('F', "")
	length := str('l', "")
	lmtp := flag('L', "")
	msgs := str('m', "")
	myname := str('M', "")
	numbered := flag('N', "")
	old := flag('o', "")
	rcpts := str('r', "")
	rdelay := str('R', "")
	sess := str('s', "")
	subject := str('S', "")
	to := str('t', "")
	window := str('T', "")
	verbose := set.CounterLong("", 'v')
	wdelay := str('w', "")
	qps := str('q', "")

	starttls := set.StringLong("starttls", 0, "")
	set.Lookup("starttls").SetOptional()
	set.BoolLong("resolve-once", 0)
	rate := str(0, "rate")
	numbering := str(0, "numbering")
	compat := flag(0, "postfix-file-bytes")
	connTO := str(0, "connect-timeout")
	connLimit := str(0, "connect-limit")
	banTO := str(0, "banner-timeout")
	repTO := str(0, "reply-timeout")
	seed := str(0, "seed")
	noSum := flag(0, "no-summary")
	cpuProf := str(0, "cpuprofile")
	out := str(0, "out")
	metricsAddr := str(0, "metrics-addr")
	linger := str(0, "linger")
	duration := str(0, "duration")
	maxLate := str(0, "max-lateness")
	noMetrics := flag(0, "no-metrics")
	sec := addSecFlags(set)
	ext := addExtFlags(set)
	dist := addDistFlags(set)
	help := flag('h', "help")
	version := flag(0, "version")

	// As smtp-source, refuse a bad number where it stands: of "-w 0
	// -R 0", -w is named. After --help or --version nothing is checked.
	var badNumber error
	helpOrVersion := false
	err = set.Getopt(append([]string{prog}, rewriteLegacy(args)...),
		func(opt getopt.Option) bool {
			switch {
			case opt.LongName() == "help" || opt.LongName() == "version":
				helpOrVersion = true
			case !helpOrVersion:
				badNumber = checkNumber(opt)
			}
			return badNumber == nil
		})
	if err != nil {
		return nil, &usageError{strings.TrimPrefix(
			cliMessage(prog, err), prog+": ") + " (try --help)"}
	}
	if badNumber != nil {
		return nil, badNumber
	}
	o.help, o.version = *help, *version
	if o.help || o.version {
		return o, nil
	}

	o.ipv4, o.ipv6, o.allowReject = *ipv4, *ipv6, *allow
	o.counter, o.verbose = *counter, *verbose
	o.keepOpen, o.lmtp, o.numbered, o.oldMode = *keep, *lmtp, *numbered,
		*old
	o.fileCompat, o.noSummary = *compat, *noSum
	o.cpuProfile, o.out, o.metricsAddr = *cpuProf, *out, *metricsAddr
	o.noMetrics = *noMetrics
	o.args = redactArgs(args)
	if err := o.durations(set, duration, maxLate, linger); err != nil {
		return nil, err
	}
	o.hostname = *myname
	if set.IsSet('f') {
		o.sender = from
	}
	if set.IsSet('t') {
		o.recipient = to
	}
	if set.IsSet('S') {
		o.subject = subject
	}
	o.file, o.fileSet = *file, set.IsSet('F')

	if err := o.numbers(set, connects, length, msgs, rcpts, rdelay, sess,
		window, wdelay); err != nil {
		return nil, err
	}
	if err := o.longs(set, starttls, qps, rate, numbering, connTO, banTO,
		repTO, seed); err != nil {
		return nil, err
	}
	if err := o.limitConnects(set, connLimit); err != nil {
		return nil, err
	}
	if err := o.security(set, sec); err != nil {
		return nil, err
	}
	if err := o.extensions(set, ext); err != nil {
		return nil, err
	}
	if err := o.distribution(set, dist); err != nil {
		return nil, err
	}

	if o.duration > 0 && !set.IsSet('m') {
		o.messages = math.MaxInt64 // the duration ends the run
	}
	if o.noMetrics && (o.out != "" || o.metricsAddr != "") {
		return nil, usagef("--no-metrics leaves nothing for --out " +
			"or --metrics-addr")
	}

	rest := set.Args()
	if len(rest) != 1 {
		return nil, usagef("expected one target, " +
			"[inet:]host[:port], unix:path or sink: (try --help)")
	}
	o.target = rest[0]
	return o, o.check(set)
}

// numbers converts smtp-source's numeric options. Each must be a whole
// number greater than zero, as smtp-source asks; unlike its atoi, trailing
// garbage ("10x") is refused rather than ignored.
func (o *options) numbers(set *getopt.Set, connects, length, msgs, rcpts,
	rdelay, sess, window, wdelay *string) error {

	type num struct {
		short rune
		val   *string
		dst   func(int64)
	}
	nums := []num{
		{'C', connects, func(v int64) { o.connects = int(v) }},
		{'l', length, func(v int64) { o.length = int(v) }},
		{'m', msgs, func(v int64) { o.messages = v }},
		{'r', rcpts, func(v int64) {
			o.recipients, o.rcptSet = int(v), true
		}},
		{'R', rdelay, func(v int64) { o.randomDelay = int(v) }},
		{'s', sess, func(v int64) { o.sessions = int(v) }},
		{'T', window, func(v int64) { o.windowSize = int(v) }},
		{'w', wdelay, func(v int64) { o.fixedDelay = int(v) }},
	}
	o.connects, o.messages, o.recipients, o.sessions = 1, 1, 1, 1
	for _, n := range nums {
		if !set.IsSet(n.short) {
			continue
		}
		v, err := parseNumber(n.short, *n.val)
		if err != nil {
			return err
		}
		n.dst(v)
	}
	return nil
}

// numberWhat names each of smtp-source's numeric options in the error
// for a bad value.
var numberWhat = map[rune]string{
	'C': "bad connection count",
	'l': "bad message length",
	'm': "bad message count",
	'r': "bad recipient count",
	'R': "bad random delay",
	's': "bad session count",
	'T': "bad TCP window size",
	'w': "bad fixed delay",
}

// parseNumber returns the value of numeric option short, or the usage
// error smtp-source gives for it.
func parseNumber(short rune, val string) (int64, error) {
	v, err := strconv.ParseInt(val, 10, 32)
	if err != nil || v <= 0 {
		return 0, usagef("%s: %s", numberWhat[short], val)
	}
	return v, nil
}

// checkNumber is parseNumber's error for opt, as Getopt has just set
// it, when it is one of smtp-source's numeric options.
func checkNumber(opt getopt.Option) error {
	name := []rune(opt.ShortName())
	if len(name) != 1 || numberWhat[name[0]] == "" {
		return nil
	}
	_, err := parseNumber(name[0], opt.String())
	return err
}

// limitConnects converts --connect-limit: a whole number, 0 for none.
func (o *options) limitConnects(set *getopt.Set, val *string) error {
	o.connectLimit = defaultConnectLimit
	if !set.IsSet("connect-limit") {
		return nil
	}
	v, err := strconv.ParseInt(*val, 10, 32)
	if err != nil || v < 0 {
		return usagef("bad --connect-limit: %q (want a whole number; "+
			"0 for no limit)", *val)
	}
	o.connectLimit = int(v)
	return nil
}

// longs converts the long options that are ours.
func (o *options) longs(set *getopt.Set, starttls, qps, rate, numbering,
	connTO, banTO, repTO, seed *string) error {

	if set.IsSet("starttls") {
		switch *starttls {
		case "", "required", "require":
			o.starttls = "required"
		case "opportunistic":
			o.starttls = "opportunistic"
		default:
			return usagef("bad --starttls mode: %q (want required "+
				"or opportunistic)", *starttls)
		}
	}

	if set.IsSet('q') && set.IsSet("rate") {
		return usagef("-q and --rate both set the rate: give one")
	}
	if set.IsSet('q') {
		v, err := strconv.ParseFloat(*qps, 64)
		if err != nil || v <= 0 || v > 1e9 {
			return usagef("bad rate for -q: %s", *qps)
		}
		o.rate = v
	}
	if set.IsSet("rate") {
		v, err := parseRate(*rate)
		if err != nil {
			return usagef("bad --rate: %v", err)
		}
		o.rate = v
	}

	o.numbering = "3.7"
	if set.IsSet("numbering") {
		if *numbering != "3.7" && *numbering != "3.9" {
			return usagef("bad --numbering: %q (want 3.7 or 3.9)",
				*numbering)
		}
		o.numbering = *numbering
	}

	o.connectTO, o.bannerTO, o.replyTO = defaultConnectTimeout,
		defaultBannerTimeout, defaultReplyTimeout
	for _, d := range []struct {
		name string
		val  *string
		dst  *time.Duration
	}{
		{"connect-timeout", connTO, &o.connectTO},
		{"banner-timeout", banTO, &o.bannerTO},
		{"reply-timeout", repTO, &o.replyTO},
	} {
		if !set.IsSet(d.name) {
			continue
		}
		v, err := time.ParseDuration(*d.val)
		if err != nil || v < 0 {
			return usagef("bad --%s: %q (want a duration such as "+
				"30s; 0 waits forever)", d.name, *d.val)
		}
		*d.dst = v
	}

	if set.IsSet("seed") {
		v, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usagef("bad --seed: %q", *seed)
		}
		o.seed, o.seedSet = v, true
	}
	return nil
}

// durations converts --duration, --max-lateness and --linger.
func (o *options) durations(set *getopt.Set, duration, maxLate,
	linger *string) error {

	if set.IsSet("duration") {
		v, err := time.ParseDuration(*duration)
		if err != nil || v <= 0 {
			return usagef("bad --duration: %q (want a positive "+
				"duration such as 30s or 5m)", *duration)
		}
		o.duration = v
	}
	if set.IsSet("max-lateness") {
		v, err := time.ParseDuration(*maxLate)
		if err != nil || v <= 0 {
			return usagef("bad --max-lateness: %q (want a positive "+
				"duration such as 1s)", *maxLate)
		}
		o.maxLateness = v
	}
	if set.IsSet("linger") {
		v, err := time.ParseDuration(*linger)
		switch {
		case err != nil || v < 0:
			return usagef("bad --linger: %q (want a duration such "+
				"as 30s)", *linger)
		case !set.IsSet("metrics-addr"):
			return usagef("--linger needs --metrics-addr")
		}
		o.linger = v
	}
	return nil
}

// parseRate reads "N" or "N/unit" (unit: s, m, h, or a duration such as
// 100ms) into messages per second.
func parseRate(s string) (float64, error) {
	num, unit, hasUnit := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive number, "+
			"optionally /unit", s)
	}
	per := time.Second
	if hasUnit {
		switch unit {
		case "s":
		case "m", "min":
			per = time.Minute
		case "h":
			per = time.Hour
		default:
			d := unit
			if !strings.ContainsAny(d[:min(1, len(d))], "0123456789") {
				d = "1" + d
			}
			per, err = time.ParseDuration(d)
			if err != nil || per <= 0 {
				return 0, fmt.Errorf("%q: bad unit %q (want s, m, h "+
					"or a duration such as 10s)", s, unit)
			}
		}
	}
	r := n / per.Seconds()
	if r > 1e9 {
		return 0, fmt.Errorf("%q: too fast", s)
	}
	return r, nil
}

// check refuses combinations smtp-source refuses, with its words.
func (o *options) check(set *getopt.Set) error {
	if set.IsSet('F') && set.IsSet('l') {
		return usagef("-l option cannot be used with -F")
	}
	if set.IsSet('R') && set.IsSet('w') {
		return usagef("do not use -w and -R options at the same time")
	}
	if o.counter > 0 && o.out == "-" {
		return usagef("-c and --out - would both write to " +
			"standard output")
	}
	if o.ipv4 && o.ipv6 {
		// smtp-source lets the last one win; two contradicting
		// options are more likely a mistake.
		return usagef("do not use -4 and -6 options at the same time")
	}
	if set.IsSet('M') {
		// -M "" too: Postfix says "bad hostname: ".
		if err := checkHostname(o.hostname); err != nil {
			return err
		}
	}
	return nil
}

// checkHostname validates -M as Postfix does: a host name, or an address
// literal in brackets.
func checkHostname(name string) error {
	if strings.HasPrefix(name, "[") {
		inner, ok := strings.CutSuffix(name[1:], "]")
		inner = strings.TrimPrefix(strings.TrimPrefix(inner, "IPv6:"),
			"ipv6:")
		if _, err := netip.ParseAddr(inner); !ok || err != nil {
			return usagef("bad address literal: %s", name)
		}
		return nil
	}
	if err := validHostname(name); err != nil {
		return usagef("bad hostname: %s (%v)", name, err)
	}
	return nil
}

// validHostname applies RFC 1035 label rules, allowing '_' as Postfix
// does, and refuses all-numeric names.
func validHostname(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("bad length")
	}
	numeric := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("empty or long label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("label starts or ends with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
				c == '-', c == '_':
				numeric = false
			default:
				return fmt.Errorf("invalid character %d(decimal)", c)
			}
		}
	}
	if numeric {
		return errors.New("numeric hostname")
	}
	return nil
}

// printable replaces the control characters of s with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
