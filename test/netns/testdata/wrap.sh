#!/bin/bash
# A wrapper around the real go-smtp-source ($REAL_GO_SMTP_SOURCE) for
# the end-to-end tests. Under Slurm, where every task runs on the one
# test node, it runs task k in worker namespace w<k>$WRAP_RUN, as a node
# of its own would be. With WRAP_LATE=NS, the shard in namespace NS
# first sleeps 3 s, so that it misses --start-at.
set -euo pipefail
if [ -n "${WRAP_RUN:-}" ] && [ -n "${SLURM_PROCID:-}" ] &&
	[ "${1:-}" != merge ]; then
	exec ip netns exec "w$SLURM_PROCID$WRAP_RUN" env WRAP_RUN= "$0" "$@"
fi
ns=$(ip netns identify $$ 2>/dev/null || true)
if [ -n "${WRAP_LATE:-}" ] && [ "$ns" = "$WRAP_LATE" ]; then
	sleep 3
fi
exec "$REAL_GO_SMTP_SOURCE" "$@"
