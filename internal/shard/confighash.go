package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// What an option is to the config hash. Every option of go-smtp-source
// must be in the table below: an option ConfigHash does not know is an
// error, so that a new one cannot silently escape the hash.
type optKind int

const (
	kFlag     optKind = iota // load-affecting, no value (-N, -d)
	kInt                     // load-affecting whole number (-m, -s)
	kString                  // load-affecting text, kept as given (-t)
	kDuration                // load-affecting Go duration
	kRate                    // -q, --rate: messages per second
	kUint                    // --seed
	kTLS                     // --starttls[=mode]
	kPresence                // hashed as given or not (a path per host)
	kSkip                    // does not change the load: not hashed
	kSkipArg                 // likewise, and takes a value
)

// shortOpts are smtp-source's letters (and the earlier Go tool's -q).
var shortOpts = map[byte]optKind{
	'4': kFlag, '6': kFlag, 'A': kFlag, 'd': kFlag, 'L': kFlag,
	'N': kFlag, 'o': kFlag,
	'C': kInt, 'l': kInt, 'm': kInt, 'r': kInt, 'R': kInt, 's': kInt,
	'T': kInt, 'w': kInt,
	'f': kString, 'F': kString, 'M': kString, 'S': kString, 't': kString,
	'q': kRate,
	// Output only: the running counter, the conversation, help.
	'c': kSkip, 'v': kSkip, 'h': kSkip,
}

// longOpts are the long options. The distribution options differ from
// shard to shard (or may, like the start time and the output) and so
// are left out, as is everything that only changes what is printed.
var longOpts = map[string]optKind{
	"starttls":           kTLS,
	"rate":               kRate,
	"numbering":          kString,
	"postfix-file-bytes": kFlag,
	"connect-timeout":    kDuration,
	"connect-limit":      kInt,
	"banner-timeout":     kDuration,
	"reply-timeout":      kDuration,
	"duration":           kDuration,
	"max-lateness":       kDuration,
	"seed":               kUint,
	"allow-few-sessions": kFlag, // see Spec.Sessions
	"ehlo":               kFlag,
	"smtps":              kFlag,
	"tls-verify":         kFlag,
	"tls-resume":         kFlag,
	"tls-server-name":    kString,
	"tls-min-version":    kString,
	"tls-max-version":    kString,
	"tls-ciphers":        kString,
	"tls-ca":             kPresence,
	"tls-cert":           kPresence,
	"tls-key":            kPresence,
	"auth":               kString,
	"auth-user":          kPresence, // shards may log in as different users
	"pipelining":         kFlag,
	"chunking":           kFlag,
	"chunk-size":         kString,
	"eml":                kString, // as -F: the path, not the content
	"unique-headers":     kFlag,

	// Secrets are never hashed: the hash is published in every result.
	"auth-password":      kSkipArg,
	"auth-password-env":  kSkipArg,
	"auth-password-file": kSkipArg,

	"resolve-once":    kSkip, // accepted, no effect
	"no-summary":      kSkip,
	"no-metrics":      kSkip,
	"help":            kSkip,
	"version":         kSkip,
	"cpuprofile":      kSkipArg,
	"out":             kSkipArg,
	"metrics-addr":    kSkipArg,
	"linger":          kSkipArg,
	"shard":           kSkipArg,
	"shard-key":       kSkipArg,
	"shard-keys":      kSkipArg,
	"start-at":        kSkipArg,
	"max-start-delay": kSkipArg,
	"run-id":          kSkipArg,
	"source-addr":     kSkipArg, // one address per shard, by design
}

// legacyLong are the single-dash long options of the earlier Go tool.
var legacyLong = map[string]string{
	"-tls":          "starttls",
	"-resolve-once": "resolve-once",
}

// ConfigHash returns "sha256:" and the hex digest of the canonical form
// of the load-affecting options in args (the command line without the
// program name), so that shards of one run share it whatever their
// distribution options, and any change to the load changes it.
//
// The canonical form parses args as go-smtp-source's getopt does (up to
// the first operand or "--"; "-s10", "-s 10", "-Nd", "--rate=5" and
// "--rate 5" alike), lets the last of a repeated option win, writes
// values in one spelling (numbers in decimal, durations and rates
// normalised) and sorts the options, so their order does not matter.
// Defaults are not filled in: "-r 1" and no -r hash apart, as they may
// differ (Postfix 3.9 numbering turns on with -r).
func ConfigHash(args []string) (string, error) {
	c, err := canonical(args)
	if err != nil {
		return "", fmt.Errorf("config hash: %w", err)
	}
	sum := sha256.Sum256([]byte(c))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// canonical returns the canonical text of args: a version line, one
// line per option in key order, then the operands in order.
func canonical(args []string) (string, error) {
	opts, operands, err := parse(args)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("go-smtp-source-config/1\n")
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		b.WriteString(optionText(k, opts[k], true) + "\n")
	}
	for i := range operands {
		b.WriteString(operandText(operands, i) + "\n")
	}
	return b.String(), nil
}

// parse returns the hashed options of args, by name, and the operands.
func parse(args []string) (map[string]string, []string, error) {
	opts := map[string]string{}
	operands, err := scan(args, opts)
	return opts, operands, err
}

// scan walks args as getopt does, records the hashed options in opts
// and returns the operands.
func scan(args []string, opts map[string]string) ([]string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if long, ok := legacyLong[a]; ok {
			a = "--" + long
		}
		var err error
		switch {
		case a == "--":
			return args[i+1:], nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			return args[i:], nil
		case strings.HasPrefix(a, "--"):
			i, err = scanLong(args, i, a[2:], opts)
		default:
			i, err = scanShort(args, i, a[1:], opts)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// scanLong records one long option; i is its index in args, and the
// index of its value when the value is the next argument is returned.
func scanLong(args []string, i int, a string,
	opts map[string]string) (int, error) {

	name, val, hasVal := strings.Cut(a, "=")
	kind, ok := longOpts[name]
	if !ok && len(name) == 1 {
		// getopt reads --m as -m when there is no long --m.
		kind, ok = shortOpts[name[0]]
	}
	if !ok {
		return i, fmt.Errorf("unknown option --%s", name)
	}
	key := "--" + name
	if len(name) == 1 {
		key = "-" + name
	}
	if takesValue(kind) && !hasVal {
		if i+1 >= len(args) {
			return i, fmt.Errorf("option --%s needs a value", name)
		}
		i++
		val = args[i]
	}
	if kind == kFlag && hasVal {
		on, err := strconv.ParseBool(val)
		if err != nil {
			return i, fmt.Errorf("bad value for --%s: %q", name, val)
		}
		if !on {
			delete(opts, key)
			return i, nil
		}
		val = ""
	}
	return i, record(opts, key, kind, val)
}

// scanShort records a cluster of short options ("-Nd", "-s10", "-s").
func scanShort(args []string, i int, a string,
	opts map[string]string) (int, error) {

	for j := 0; j < len(a); j++ {
		kind, ok := shortOpts[a[j]]
		if !ok {
			return i, fmt.Errorf("unknown option -%c", a[j])
		}
		key := "-" + a[j:j+1]
		if !takesValue(kind) {
			if err := record(opts, key, kind, ""); err != nil {
				return i, err
			}
			continue
		}
		val := a[j+1:]
		if val == "" {
			if i+1 >= len(args) {
				return i, fmt.Errorf("option -%c needs a value", a[j])
			}
			i++
			val = args[i]
		}
		return i, record(opts, key, kind, val)
	}
	return i, nil
}

func takesValue(k optKind) bool {
	return k != kFlag && k != kSkip && k != kTLS
}

// record stores one option's value in its canonical spelling. Values
// that do not parse are kept as given: the command line parser refuses
// them anyway.
func record(opts map[string]string, key string, kind optKind,
	val string) error {

	switch kind {
	case kSkip, kSkipArg:
		return nil
	case kInt:
		if v, err := strconv.ParseInt(val, 10, 64); err == nil {
			val = strconv.FormatInt(v, 10)
		}
	case kUint:
		if v, err := strconv.ParseUint(val, 10, 64); err == nil {
			val = strconv.FormatUint(v, 10)
		}
	case kDuration:
		if v, err := time.ParseDuration(val); err == nil {
			val = strconv.FormatInt(int64(v), 10) + "ns"
		}
	case kRate:
		plain := key == "-q"
		key = "--rate" // -q and --rate are one setting; the last wins
		if v, err := perSecond(val, plain); err == nil {
			val = strconv.FormatFloat(v, 'g', -1, 64) + "/s"
		}
	case kPresence:
		val = "given"
	case kTLS:
		switch val {
		case "", "require", "required":
			val = "required"
		}
	}
	opts[key] = val
	return nil
}

// perSecond reads a rate as --rate does: "N" or "N/unit", unit s, m,
// min, h or a duration (100ms, 2s); -q takes a plain number.
func perSecond(s string, plain bool) (float64, error) {
	num, unit, hasUnit := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || (plain && hasUnit) {
		return 0, strconv.ErrSyntax
	}
	per := time.Second
	switch {
	case !hasUnit, unit == "s":
	case unit == "m" || unit == "min":
		per = time.Minute
	case unit == "h":
		per = time.Hour
	default:
		if unit == "" || unit[0] < '0' || unit[0] > '9' {
			unit = "1" + unit
		}
		per, err = time.ParseDuration(unit)
		if err != nil || per <= 0 {
			return 0, strconv.ErrSyntax
		}
	}
	return n / per.Seconds(), nil
}

// ConfigDiff names the first load-affecting option in which two command
// lines differ, in the canonical form ConfigHash hashes (`-m="100"`,
// `operand="mx:25"`), as "X in one, Y in the other", where an option
// one line lacks is "no -d"; "" when they hash alike or one cannot be
// read. Options are compared by name, in key order, then operands by
// position.
func ConfigDiff(a, b []string) string {
	oa, pa, erra := parse(a)
	ob, pb, errb := parse(b)
	if erra != nil || errb != nil {
		return ""
	}

	names := maps.Clone(oa)
	maps.Copy(names, ob)
	for _, k := range slices.Sorted(maps.Keys(names)) {
		x, inA := oa[k]
		y, inB := ob[k]
		if inA != inB || x != y {
			return fmt.Sprintf("%s in one, %s in the other",
				optionText(k, x, inA), optionText(k, y, inB))
		}
	}

	for i := range max(len(pa), len(pb)) {
		x, y := operandText(pa, i), operandText(pb, i)
		if x != y {
			return fmt.Sprintf("%s in one, %s in the other", x, y)
		}
	}
	return ""
}

// ResultsDiff is ConfigDiff of the command lines two results keep in
// their config ("args"), or "" when either lacks one.
func ResultsDiff(a, b *metrics.Result) string {
	x, y := argsOf(a), argsOf(b)
	if x == nil || y == nil {
		return ""
	}
	return ConfigDiff(x, y)
}

// argsOf returns the command line a result keeps in its config, or nil.
func argsOf(r *metrics.Result) []string {
	if args, ok := r.Config["args"].([]string); ok {
		return args
	}
	list, _ := r.Config["args"].([]any) // as decoded from JSON
	var args []string
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		args = append(args, s)
	}
	return args
}

// optionText is option k as the canonical form writes it, or "no k"
// when the command line lacks it.
func optionText(k, v string, present bool) string {
	if !present {
		return "no " + k
	}
	return k + "=" + strconv.Quote(v)
}

// operandText is operand i as the canonical form writes it, or "no
// operand" past the end.
func operandText(operands []string, i int) string {
	if i >= len(operands) {
		return "no operand"
	}
	return "operand=" + strconv.Quote(operands[i])
}
