#!/bin/sh
# render.sh: write the Kubernetes manifests of one distributed
# go-smtp-source run (an Indexed Job and its headless Service) to
# standard output, from job.yaml.tmpl. POSIX sh, no helm or kustomize.
#
#   ./render.sh -n 8 -r r1 -i registry.test/go-smtp-source:0.4.0 \
#       -d 600 -- -s 512 -m 4000000 -r 2 -N mx.example.test:25 > job.yaml
#   kubectl apply -f job.yaml
#
# Everything after "--" is go-smtp-source's load options and target,
# the same for every shard; the distribution options (--shard,
# --start-at, --run-id, --out, --metrics-addr, --linger) are set here.
set -eu

usage() {
	cat >&2 <<'USAGE'
usage: render.sh -n SHARDS [options] -- GO-SMTP-SOURCE-OPTIONS... TARGET

  -n SHARDS    number of shards (pods), 1 to 10000
  -r RUN_ID    run id, also the Job's name suffix: lower-case letters,
               digits and '-', at most 30 (default: r<UTC date-time>)
  -i IMAGE     container image (default: go-smtp-source:latest)
  -l LEAD      seconds from now to the common start (default: 120; time
               to pull the image and schedule every pod)
  -s START     the start as an RFC 3339 UTC time instead of now + LEAD
  -d DURATION  the longest the load may run, in seconds (default: 600);
               the Job is killed after LEAD + DURATION + LINGER + GRACE
  -L LINGER    seconds to keep /metrics up after the run (default: 30)
  -g GRACE     seconds between SIGTERM and SIGKILL (default: 30)
  -p PORT      metrics port (default: 9464)
  -c CPU       CPU request per pod (default: 1)
  -t TEMPLATE  the template (default: job.yaml.tmpl beside this script)
USAGE
	exit 2
}

die() {
	printf 'render.sh: %s\n' "$*" >&2
	exit 1
}

# is_uint VALUE: a plain decimal number.
is_uint() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
}

SHARDS='' RUN_ID='' IMAGE=go-smtp-source:latest LEAD=120 START_AT=''
DURATION=600 LINGER=30 GRACE=30 PORT=9464 CPU=1
TEMPLATE=$(dirname "$0")/job.yaml.tmpl
while getopts n:r:i:l:s:d:L:g:p:c:t: opt; do
	case $opt in
	n) SHARDS=$OPTARG ;;
	r) RUN_ID=$OPTARG ;;
	i) IMAGE=$OPTARG ;;
	l) LEAD=$OPTARG ;;
	s) START_AT=$OPTARG ;;
	d) DURATION=$OPTARG ;;
	L) LINGER=$OPTARG ;;
	g) GRACE=$OPTARG ;;
	p) PORT=$OPTARG ;;
	c) CPU=$OPTARG ;;
	t) TEMPLATE=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

if ! is_uint "$SHARDS" || [ "$SHARDS" -lt 1 ] || [ "$SHARDS" -gt 10000 ]
then
	die "-n: want a number of shards from 1 to 10000, not '$SHARDS'"
fi
for v in "$LEAD" "$DURATION" "$LINGER" "$GRACE" "$PORT"; do
	is_uint "$v" || die "want a whole number of seconds, not '$v'"
done
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
	die "-p: bad port $PORT"
fi
[ -r "$TEMPLATE" ] || die "cannot read the template $TEMPLATE"

[ -n "$RUN_ID" ] || RUN_ID=r$(date -u +%Y%m%d-%H%M%S)
case $RUN_ID in
*[!a-z0-9-]* | -* | *-) die "-r: '$RUN_ID': use a-z, 0-9 and '-'" ;;
esac
[ ${#RUN_ID} -le 30 ] || die "-r: '$RUN_ID' is longer than 30"
NAME=go-smtp-source-$RUN_ID

# The start: GNU date, else BSD date.
if [ -z "$START_AT" ]; then
	at=$(($(date -u +%s) + LEAD))
	START_AT=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
		date -u -r "$at" +%Y-%m-%dT%H:%M:%SZ)
fi
case $START_AT in
[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:*Z) ;;
*) die "-s: want an RFC 3339 UTC time (2026-12-03T16:00:00Z)" ;;
esac
DEADLINE=$((LEAD + DURATION + LINGER + GRACE + 60))

# Each load argument becomes a double-quoted YAML string: backslashes
# and quotes escaped, and "$(" written "$$(" so that the kubelet does
# not expand it.
ARGS=
for a in "$@"; do
	case $a in *'
'*) die "an argument holds a newline" ;; esac
	# shellcheck disable=SC2016 # $( is meant literally
	q=$(printf '%s\n' "$a" |
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\$(/$$(/g')
	ARGS="$ARGS        - \"$q\"
"
done
ARGS=${ARGS%?} # the last newline

export NAME RUN_ID SHARDS IMAGE START_AT DEADLINE LEAD DURATION LINGER \
	GRACE PORT CPU ARGS
# awk's ENVIRON gives the values as they are (-v would read escapes),
# and index/substr replace without gsub's special characters.
awk '
function put(line, key, val,    i, out) {
	out = ""
	while ((i = index(line, key)) > 0) {
		out = out substr(line, 1, i - 1) val
		line = substr(line, i + length(key))
	}
	return out line
}
$0 == "@ARGS@" { print ENVIRON["ARGS"]; next }
{
	$0 = put($0, "@NAME@", ENVIRON["NAME"])
	$0 = put($0, "@RUN_ID@", ENVIRON["RUN_ID"])
	$0 = put($0, "@SHARDS@", ENVIRON["SHARDS"])
	$0 = put($0, "@IMAGE@", ENVIRON["IMAGE"])
	$0 = put($0, "@START_AT@", ENVIRON["START_AT"])
	$0 = put($0, "@DEADLINE@", ENVIRON["DEADLINE"])
	$0 = put($0, "@LEAD@", ENVIRON["LEAD"])
	$0 = put($0, "@DURATION@", ENVIRON["DURATION"])
	$0 = put($0, "@LINGER@", ENVIRON["LINGER"])
	$0 = put($0, "@GRACE@", ENVIRON["GRACE"])
	$0 = put($0, "@METRICS_PORT@", ENVIRON["PORT"])
	$0 = put($0, "@CPU@", ENVIRON["CPU"])
	if ($0 ~ /@[A-Z_]+@/) {
		print "render.sh: unknown placeholder: " $0 > "/dev/stderr"
		exit 1
	}
	print
}' "$TEMPLATE"

printf 'render.sh: run %s: %d shards start at %s; collect with\n' \
	"$RUN_ID" "$SHARDS" "$START_AT" >&2
printf '  %s/collect.sh %s > %s.json\n' "$(dirname "$0")" "$RUN_ID" \
	"$RUN_ID" >&2
