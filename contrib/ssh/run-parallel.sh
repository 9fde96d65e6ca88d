#!/bin/bash
# run-parallel.sh: a distributed go-smtp-source run over SSH with GNU
# parallel: one shard per host of HOSTFILE (parallel's --sshloginfile
# format, one host a line), all started together; the results come
# back as framed lines on parallel's output and are merged here.
#
#   contrib/ssh/run-parallel.sh hosts -s 64 -m 1000000 -N mx.test:25 \
#       > run.json
#   go-smtp-source report run.json
#
# --halt now,fail=1 ends every shard as soon as one fails (exit 3: it
# missed the start); the merge is then marked partial and the script
# exits non-zero. go-smtp-source must be on every host's PATH (or set
# GO_SMTP_SOURCE), and the hosts' clocks in sync (chrony, NTP).
#
# Environment: GO_SMTP_SOURCE (the remote program), GO_SMTP_SOURCE_MERGE
# (the local one, default GO_SMTP_SOURCE), GO_SMTP_SOURCE_LEAD (seconds
# to the start, default 60), RUN_ID (default ssh-<time>), LOG (the
# collected output, default $RUN_ID.log), PARALLEL_SSH (parallel's ssh).
set -euo pipefail

[ $# -ge 2 ] || {
	echo "usage: run-parallel.sh HOSTFILE OPTIONS... TARGET" >&2
	exit 2
}
hosts=$1
shift
bin=${GO_SMTP_SOURCE:-go-smtp-source}
merge=${GO_SMTP_SOURCE_MERGE:-$bin}
lead=${GO_SMTP_SOURCE_LEAD:-60}
run=${RUN_ID:-ssh-$(date -u +%Y%m%d-%H%M%S)}
log=${LOG:-$run.log}

n=$(grep -cv '^[[:space:]]*\(#\|$\)' "$hosts")
[ "$n" -ge 1 ] || { echo "run-parallel.sh: no host in $hosts" >&2; exit 2; }
start=$(date -u -d "+$lead sec" +%Y-%m-%dT%H:%M:%SZ)
echo "run $run: $n shards start at $start" >&2

# parallel runs each job with $SHELL, on the remote side too; where it
# is unset (cron, CI, containers) the jobs fail without a word and
# parallel still exits 0.
export SHELL=${SHELL:-/bin/bash}

# The load options reach the remote shell quoted once more.
args=$(printf ' %q' "$@")

# -j1 per host and one argument per shard: shard k runs on one host.
status=0
seq 0 $((n - 1)) | parallel --sshloginfile "$hosts" -j1 --line-buffer \
	--tag --halt now,fail=1 \
	"$bin --shard={}/$n --start-at=$start --run-id=$run --out=- $args" \
	>"$log" || status=$?

partial=()
[ "$status" = 0 ] || partial=(--allow-partial)
"$merge" merge --from-logs "${partial[@]}" "$log"
exit "$status"
