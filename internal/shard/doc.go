// Package shard holds the contract that lets one run of go-smtp-source
// be split over N processes (shards) on machines placed by an engine the
// user already runs (Kubernetes Indexed Jobs, Slurm, GNU parallel, pdsh)
// with no protocol between the shards:
//
//   - who this process is: [Parse] reads --shard K/N, --shard auto (the
//     engine's environment) or --shard-key with --shard-keys;
//   - what it sends: message g of the global sequence belongs to shard
//     g mod N ([Spec.Owns], [Spec.Messages], [Spec.Global]), sessions are
//     split so that they add up to -s ([Spec.Sessions]), and an open
//     model keeps the global schedule start + g/R ([Offset]);
//   - when it starts: [StartAt] reads --start-at, [Wait] sleeps until it
//     or refuses a start that is too late;
//   - which run a result belongs to: [ConfigHash] of the load options.
//
// Because every choice depends on g alone (recipient numbers g·r+j+1,
// random delays seeded by g, the scheduled send time), the union of the
// shards' work is exactly the work of one process with the same options.
//
// # Exit statuses
//
// The engines act on the exit status (a Job's podFailurePolicy, srun
// --kill-on-bad-exit, parallel --halt), so these are a contract:
//
//	0  complete, result written
//	1  runtime error (cli.ExitFatal)
//	2  usage error
//	3  ExitLate: missed --start-at; no connection was made
//	4  ExitTerminated: stopped by a signal; a partial result was written
//	5  ExitThreshold: report --fail-if threshold violated (report only)
package shard

// Exit statuses of the distributed-run contract (see the package doc).
const (
	ExitUsage      = 2 // bad command line
	ExitLate       = 3 // missed --start-at by more than --max-start-delay
	ExitTerminated = 4 // stopped by SIGTERM or SIGINT; result partial
	ExitThreshold  = 5 // report --fail-if: a threshold was violated
)
