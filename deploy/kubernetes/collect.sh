#!/bin/sh
# collect.sh: wait for a distributed run's Job to finish, gather every
# shard's result from the pods' logs and merge them into one result
# document on standard output.
#
#   ./collect.sh r1 > r1.json && go-smtp-source report r1.json
#
# Pods keep their logs until the Job's ttlSecondsAfterFinished (a day).
# A Job that failed (a shard missed the start, or was killed) is still
# collected with -p: the merge is then marked partial and names the
# missing shards.
set -eu

usage() {
	cat >&2 <<'USAGE'
usage: collect.sh [-n NAMESPACE] [-t TIMEOUT] [-p] RUN_ID

  -n NAMESPACE  the Job's namespace (default: kubectl's)
  -t TIMEOUT    seconds to wait for the Job to finish (default: 3600)
  -p            merge what there is when shards failed (--allow-partial)

Environment: KUBECTL (default kubectl), GO_SMTP_SOURCE (default
go-smtp-source), POLL (seconds between looks at the Job, default 5).
USAGE
	exit 2
}

die() {
	printf 'collect.sh: %s\n' "$*" >&2
	exit 1
}

KUBECTL=${KUBECTL:-kubectl}
GO_SMTP_SOURCE=${GO_SMTP_SOURCE:-go-smtp-source}
POLL=${POLL:-5}
NS='' TIMEOUT=3600 PARTIAL=''
while getopts n:t:p opt; do
	case $opt in
	n) NS=$OPTARG ;;
	t) TIMEOUT=$OPTARG ;;
	p) PARTIAL=--allow-partial ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
RUN_ID=$1
JOB=job/go-smtp-source-$RUN_ID

k() {
	if [ -n "$NS" ]; then
		"$KUBECTL" --namespace "$NS" "$@"
	else
		"$KUBECTL" "$@"
	fi
}

# Wait for Complete or Failed; kubectl wait can wait for one condition
# only, so poll both.
shards=$(k get "$JOB" -o jsonpath='{.spec.completions}') ||
	die "no $JOB"
waited=0
while :; do
	state=$(k get "$JOB" -o \
		jsonpath='{.status.conditions[?(@.status=="True")].type}')
	case " $state " in
	*" Complete "*) break ;;
	*" Failed "*)
		k describe "$JOB" | tail -n 20 >&2
		[ -n "$PARTIAL" ] || die "$JOB failed; -p merges what there is"
		break
		;;
	esac
	[ "$waited" -lt "$TIMEOUT" ] || die "$JOB still running after ${TIMEOUT}s"
	sleep "$POLL"
	waited=$((waited + POLL))
done

# One log request per pod, all at once; --prefix names the pod on each
# line, which merge ignores and which makes errors traceable.
k logs -l "go-smtp-source/run=$RUN_ID" --tail=-1 --prefix \
	--max-log-requests="$shards" |
	"$GO_SMTP_SOURCE" merge --from-logs --run-id "$RUN_ID" $PARTIAL
