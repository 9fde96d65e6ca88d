package main

import (
	"os"
	"time"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
)

// distOptions place the process in a distributed run (see
// deploy/README.md): which shard it is, and when it starts.
type distOptions struct {
	spec          shard.Spec
	startAt       time.Time // zero: start at once
	maxStartDelay time.Duration
}

// distFlags are the getopt values of distOptions, before checking.
type distFlags struct {
	shard, key, keys, startAt, maxDelay *string
}

// addDistFlags declares the distribution options on set.
func addDistFlags(set *getopt.Set) *distFlags {
	str := func(long string) *string { return set.StringLong(long, 0, "") }
	return &distFlags{
		shard: str("shard"), key: str("shard-key"),
		keys: str("shard-keys"), startAt: str("start-at"),
		maxDelay: str("max-start-delay"),
	}
}

// getenv reads the engine's environment for --shard auto; a variable
// for tests.
var getenv = os.Getenv

// distribution converts and checks the distribution options. It runs
// after the load options, whose session count it splits.
func (o *options) distribution(set *getopt.Set, f *distFlags) error {
	d := &o.dist
	spec, err := shard.Parse(shard.Flags{Shard: *f.shard, Key: *f.key,
		Keys: *f.keys}, getenv)
	if err != nil {
		return usagef("%v", err)
	}
	d.spec = spec
	if spec.Sharded() {
		if o.ext.runID == "" {
			return usagef("a sharded run needs --run-id, the same " +
				"for every shard")
		}
		if _, err := spec.Sessions(o.sessions, false); err != nil {
			return usagef("%v", err)
		}
	}
	if o.ext.runID != "" {
		if err := frame.CheckRunID(o.ext.runID); err != nil {
			return usagef("%v", err)
		}
	}

	if set.IsSet("start-at") {
		if d.startAt, err = shard.StartAt(*f.startAt,
			time.Now()); err != nil {
			return usagef("%v", err)
		}
	}
	d.maxStartDelay = shard.DefaultMaxStartDelay
	if set.IsSet("max-start-delay") {
		v, err := time.ParseDuration(*f.maxDelay)
		switch {
		case err != nil || v <= 0:
			// 0 cannot be met: a wake-up is always a little late.
			return usagef("bad --max-start-delay: %q (want a "+
				"positive duration such as 1s)", *f.maxDelay)
		case !set.IsSet("start-at"):
			return usagef("--max-start-delay needs --start-at")
		}
		d.maxStartDelay = v
	}
	return nil
}

// framed reports whether --out - writes frames (GO-SMTP-SOURCE-RESULT
// lines) rather than plain JSON: when the run is named, so that merge
// --from-logs can pick the result out of a log.
func (o *options) framed() bool {
	return o.out == "-" && o.ext.runID != ""
}

// frameKey names this process's result in frames.
func (o *options) frameKey() frame.Key {
	return frame.Key{RunID: o.ext.runID, Index: o.dist.spec.Index,
		Count: o.dist.spec.Count}
}
