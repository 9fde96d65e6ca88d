#!/bin/bash
# topology.sh: an isolated test network for distributed runs: a bridge
# with no uplink, a sink namespace and N worker namespaces on it, in
# the RFC 2544 benchmarking range 198.18.0.0/24. Nothing in it has a
# default route, and the host has no address on the bridge, so no
# packet can leave it; "up" checks that before it reports success.
#
#   eval "$(test/netns/topology.sh up 4)"   # sets RUN, SINK_NS, ...
#   ip netns exec "$SINK_NS" go-smtp-sink 198.18.0.1:2525 ...
#   ip netns exec w0$RUN go-smtp-source --shard 0/4 198.18.0.1:2525 ...
#   test/netns/topology.sh down "$RUN"
#
# Names carry a per-run suffix (RUN, random unless given), so parallel
# runs never collide: bridge lt$RUN, sink s$RUN (198.18.0.1), workers
# w<k>$RUN (198.18.0.<11+k>). "up" tears down what it built when it
# fails half-way; callers tear down with "down" (in a trap, or a Go
# test's Cleanup). Needs root and iproute2.
set -euo pipefail

NET=198.18.0
SINK_HOST=1
WORKER_BASE=11
MAX_WORKERS=64

die() {
	printf 'topology.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	die "usage: topology.sh up N [RUN] | down RUN | check RUN N"
}

# add_ns NS HOST: a namespace with eth0 on the bridge at $NET.HOST.
add_ns() {
	local ns=$1 host=$2
	ip netns add "$ns"
	# The host side is named after the namespace; at most 15 bytes.
	ip link add "v$ns" type veth peer name eth0 netns "$ns"
	ip link set "v$ns" master "$BR" up
	ip -n "$ns" addr add "$NET.$host/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
}

# check_ns NS: no default route and nothing beyond the test network.
check_ns() {
	local ns=$1 routes
	if ip -n "$ns" route show default | grep -q .; then
		die "$ns has a default route"
	fi
	if ip -n "$ns" -6 route show default | grep -q .; then
		die "$ns has an IPv6 default route"
	fi
	routes=$(ip -n "$ns" route show | grep -v "^$NET.0/24 " || true)
	[ -z "$routes" ] || die "$ns has routes beyond $NET.0/24: $routes"
}

# check RUN N: the isolation assertion.
check() {
	local k member
	ip link show "$BR" >/dev/null 2>&1 || die "no bridge $BR"
	# Only this run's veths on the bridge: no uplink.
	for member in $(ip -o link show master "$BR" |
		awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		case $member in
		vs"$RUN" | vw*"$RUN") ;;
		*) die "$BR has a foreign port $member (an uplink?)" ;;
		esac
	done
	# (An IPv6 link-local address reaches nothing beyond the link.)
	if ip -o addr show dev "$BR" | grep -v ' fe80:' | grep -q inet; then
		die "the host has an address on $BR"
	fi
	check_ns "s$RUN"
	for k in $(seq 0 $((N - 1))); do
		check_ns "w$k$RUN"
	done
}

up() {
	# From here on, a failure (die or set -e) removes what was built.
	trap 'down >/dev/null 2>&1 || true' EXIT
	ip link add "$BR" type bridge
	ip link set "$BR" up
	add_ns "s$RUN" "$SINK_HOST"
	local k workers='' addrs=''
	for k in $(seq 0 $((N - 1))); do
		add_ns "w$k$RUN" $((WORKER_BASE + k))
		workers="$workers w$k$RUN"
		addrs="$addrs $NET.$((WORKER_BASE + k))"
	done
	check
	trap - EXIT
	cat <<VARS
RUN=$RUN
BRIDGE=$BR
SINK_NS=s$RUN
SINK_ADDR=$NET.$SINK_HOST
WORKER_NS='${workers# }'
WORKER_ADDRS='${addrs# }'
VARS
}

# down: end the processes left in the run's namespaces (a namespace
# and its veth outlive its name while a process holds it), remove the
# namespaces and the bridge. Safe to repeat.
down() {
	local ns pids
	for ns in $(ip netns list | awk '{ print $1 }'); do
		case $ns in
		s"$RUN" | w[0-9]"$RUN" | w[0-9][0-9]"$RUN") ;;
		*) continue ;;
		esac
		pids=$(ip netns pids "$ns")
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086 # a list of pids
			kill -9 $pids 2>/dev/null || true
		fi
		ip netns del "$ns"
	done
	if ip link show "$BR" >/dev/null 2>&1; then
		ip link del "$BR"
	fi
}

# check_run: the suffix must keep interface names within 15 bytes.
check_run() {
	case $RUN in
	'' | *[!a-z0-9]*) die "run suffix '$RUN': use a-z and 0-9" ;;
	esac
	[ ${#RUN} -le 8 ] || die "run suffix '$RUN' is longer than 8"
}

check_n() {
	case $N in '' | *[!0-9]*) die "N: want a number of workers" ;; esac
	if [ "$N" -lt 1 ] || [ "$N" -gt $MAX_WORKERS ]; then
		die "N: want 1 to $MAX_WORKERS workers"
	fi
}

[ $# -ge 2 ] || usage
command -v ip >/dev/null || die "needs ip (iproute2)"
[ "$(id -u)" = 0 ] || die "needs root"
case $1 in
up)
	N=$2
	RUN=${3:-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
	check_n
	check_run
	BR=lt$RUN
	! ip link show "$BR" >/dev/null 2>&1 || die "run $RUN exists"
	up
	;;
down)
	[ $# -eq 2 ] || usage
	RUN=$2
	check_run
	BR=lt$RUN
	down
	;;
check)
	[ $# -eq 3 ] || usage
	RUN=$2 N=$3
	check_run
	check_n
	BR=lt$RUN
	check
	;;
*) usage ;;
esac
