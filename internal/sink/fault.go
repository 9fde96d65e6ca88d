package sink

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Fault makes a given percentage of the replies to one command fail:
// replaced by another reply, delayed, or answered by hanging up. It is
// what smtp-sink's -f -r -q -w options do to every reply, applied to a
// random share of them. A 421 reply also ends the session.
type Fault struct {
	Command    Command
	Percent    float64       // share of replies hit, 0 < Percent <= 100
	Reply      string        // the reply sent instead, if not empty
	Delay      time.Duration // added before the reply, if positive
	Disconnect bool          // hang up without replying
}

// ParseFault reads the --fault syntax "command:percent[%]:action", where
// action is a reply ("450" or "550 5.1.1 No such user"), "delay=2s" or
// "disconnect". A bare reply code gets the text of smtp-sink's -b and -B
// replies. Examples: "rcpt:5%:450", "data:10%:delay=2s",
// ".:1%:554 5.7.1 Rejected", "connect:2%:disconnect".
func ParseFault(s string) (Fault, error) {
	var f Fault
	name, rest, ok1 := strings.Cut(s, ":")
	pct, action, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || action == "" {
		return f, fmt.Errorf("bad fault %q: want command:percent:action", s)
	}

	cmd, err := ParseCommand(name)
	if err != nil {
		return f, fmt.Errorf("bad fault %q: %w", s, err)
	}
	f.Command = cmd

	p, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
	if err != nil || p <= 0 || p > 100 {
		return f, fmt.Errorf("bad fault %q: percent must be in (0, 100]", s)
	}
	f.Percent = p

	switch {
	case action == "disconnect":
		f.Disconnect = true
	case strings.HasPrefix(action, "delay="):
		d, err := time.ParseDuration(strings.TrimPrefix(action, "delay="))
		if err != nil || d <= 0 {
			return f, fmt.Errorf("bad fault %q: bad delay", s)
		}
		f.Delay = d
	default:
		r, err := faultReply(action)
		if err != nil {
			return f, fmt.Errorf("bad fault %q: %w", s, err)
		}
		f.Reply = r
	}
	return f, nil
}

// faultReply checks a fault's reply and completes a bare reply code.
func faultReply(r string) (string, error) {
	if len(r) < 3 || (r[0] != '4' && r[0] != '5') ||
		strings.Trim(r[:3], "0123456789") != "" ||
		(len(r) > 3 && r[3] != ' ') {
		return "", fmt.Errorf("reply must be 4xx or 5xx: %q", r)
	}
	if len(r) > 3 {
		return r, nil
	}
	return fmt.Sprintf("%s %c.3.0 Error: command failed", r, r[0]), nil
}

// String returns the fault in ParseFault's syntax.
func (f Fault) String() string {
	action := f.Reply
	switch {
	case f.Disconnect:
		action = "disconnect"
	case f.Delay > 0:
		action = "delay=" + f.Delay.String()
	}
	return fmt.Sprintf("%s:%g%%:%s", f.Command, f.Percent, action)
}

// sessionRand returns the random source of session number n: with the
// same seed, the n-th session rolls the same dice.
func sessionRand(seed, n uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, n))
}

// delayFor returns the -W delay of one reply.
func (d Delay) delayFor(rng *rand.Rand) time.Duration {
	if d.Odds <= 0 {
		return d.Delay
	}
	var total time.Duration
	for rng.IntN(100) < d.Odds {
		total += d.Delay
	}
	return total
}
