#!/bin/bash
# A stand-in for go-smtp-source in the recipe tests: it prints the
# shard it was given and its arguments, one line, and for "merge" the
# merge's arguments and the logs it was given. With STUB_FAIL=K, shard
# K exits 3 (missed the start) at once and the others wait STUB_SLEEP
# seconds (20) to be stopped.
if [ "$1" = merge ]; then
	shift
	echo "merge: $*"
	for f; do
		if [ -f "$f" ]; then cat "$f"; fi
	done
	exit 0
fi

shard=
prev=
for a; do
	case $a in
	--shard=auto) shard=$SLURM_PROCID/$SLURM_STEP_NUM_TASKS ;;
	--shard=*) shard=${a#--shard=} ;;
	esac
	[ "$prev" = --shard-key ] && shard=$a
	prev=$a
done
ns=$(ip netns identify $$ 2>/dev/null)
printf 'stub shard=%s ns=%s args:' "$shard" "${ns:--}"
printf ' [%s]' "$@"
echo
if [ -n "${STUB_FAIL:-}" ]; then
	case $shard in
	"$STUB_FAIL" | "$STUB_FAIL"/*) exit 3 ;;
	esac
	sleep "${STUB_SLEEP:-20}"
fi
