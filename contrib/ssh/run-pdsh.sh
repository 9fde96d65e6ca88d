#!/bin/bash
# run-pdsh.sh: a distributed go-smtp-source run with pdsh: one shard
# per host of HOSTFILE (one host a line), all started together; each
# host finds its shard by its name in the host list (--shard-keys), and
# the results come back as framed lines on pdsh's output, merged here.
#
#   contrib/ssh/run-pdsh.sh hosts -s 64 -m 1000000 -N mx.test:25 > run.json
#   go-smtp-source report run.json
#
# With pdsh's ssh module a shard's key is its host name (as hostname
# prints it; "w1" matches "w1.example"). With PDSH_RCMD_TYPE=exec, pdsh
# runs the command here with %h replaced by the host: set PDSH_WRAP to
# the command that reaches it (such as "ip netns exec %h"), and the key
# is %h. pdsh cannot stop the other shards when one fails (exit 3: it
# missed the start); the merge then names the missing shard, and this
# script merges what there is and exits non-zero.
#
# Environment: GO_SMTP_SOURCE, GO_SMTP_SOURCE_MERGE, GO_SMTP_SOURCE_LEAD
# (default 60), RUN_ID (default pdsh-<time>), LOG (default $RUN_ID.log),
# PDSH_RCMD_TYPE and PDSH_WRAP (above).
set -euo pipefail

[ $# -ge 2 ] || {
	echo "usage: run-pdsh.sh HOSTFILE OPTIONS... TARGET" >&2
	exit 2
}
hosts=$1
shift
bin=${GO_SMTP_SOURCE:-go-smtp-source}
merge=${GO_SMTP_SOURCE_MERGE:-$bin}
lead=${GO_SMTP_SOURCE_LEAD:-60}
run=${RUN_ID:-pdsh-$(date -u +%Y%m%d-%H%M%S)}
log=${LOG:-$run.log}

list=$(grep -v '^[[:space:]]*\(#\|$\)' "$hosts" | paste -sd, -)
[ -n "$list" ] || { echo "run-pdsh.sh: no host in $hosts" >&2; exit 2; }
n=$(tr ',' '\n' <<<"$list" | grep -c .)
start=$(date -u -d "+$lead sec" +%Y-%m-%dT%H:%M:%SZ)
echo "run $run: $n shards start at $start" >&2

# pdsh's exec module passes the words as they are; ssh joins them into
# one line for the remote shell, so they are quoted for it.
key=() load=()
if [ "${PDSH_RCMD_TYPE:-}" = exec ]; then
	key=(--shard-key %h)
	load=("$@")
else
	for a in "$@"; do
		load+=("$(printf '%q' "$a")")
	done
fi

# -S: pdsh exits with the largest of the shards' exit statuses.
status=0
# shellcheck disable=SC2086 # PDSH_WRAP is words by design
pdsh -S -f "$n" -w "$list" ${PDSH_WRAP:-} "$bin" "${key[@]}" \
	--shard-keys "$list" --start-at="$start" --run-id="$run" --out=- \
	"${load[@]}" >"$log" || status=$?

partial=()
[ "$status" = 0 ] || partial=(--allow-partial)
"$merge" merge --from-logs "${partial[@]}" "$log"
exit "$status"
