#!/bin/bash
# Run a private Postfix MTA for the interop tests as the postmulti(1)
# instance "postfix-gst", leaving the default instance's mail settings
# alone. ("postmulti -e init" and "create" add three multi_instance_*
# lines to the default main.cf; that is how postmulti tracks instances.)
#
# Usage:
#   mta.sh start PORT SMTPSPORT LOGFILE [name=value ...]
#   mta.sh stop
#   mta.sh destroy
#
# start (re)writes the instance's main.cf and master.cf from scratch:
# smtpd on 127.0.0.1:PORT with STARTTLS offered, implicit TLS (wrapper
# mode) on 127.0.0.1:SMTPSPORT, mail from 127.0.0.0/8 accepted for any
# recipient (mynetworks may relay; example.com, example.net and
# smtp.example.com are relay_domains) and discarded, no rate or
# connection limits, and its log in LOGFILE
# (written by postlogd). Extra name=value pairs are applied last with
# postconf -e; that is the hook for other modes, e.g. relaying to a sink:
#   default_transport=smtp relay_transport=smtp \
#   relayhost=[127.0.0.1]:2525 smtp_tls_security_level=none
# It is safe to run again: a running instance is stopped first, a
# half-made one is rebuilt, and mail left in its queue is deleted.
#
# Needs root and Postfix (postconf, postmulti, postfix, postsuper).
set -euo pipefail

readonly NAME=postfix-gst
readonly CONF=/etc/$NAME
readonly QUEUE=/var/spool/$NAME
readonly DATA=/var/lib/$NAME

die() { echo "mta.sh: $*" >&2; exit 1; }
usage() {
	die "usage: mta.sh start PORT SMTPSPORT LOGFILE [name=value ...]" \
		"| stop | destroy"
}

# registered prints "yes" when the default instance lists ours. (Read
# main.cf directly: postmulti -l fails when an instance lost its files.)
registered() {
	postconf -h multi_instance_directories 2>/dev/null | tr ', ' '\n\n' |
		awk -v d="$CONF" '$1 == d { print "yes"; exit }'
}

# unregister removes the instance from the default instance's list.
unregister() {
	postconf -e "multi_instance_directories=$(
		postconf -h multi_instance_directories | tr ', ' '\n\n' |
			grep -vx "$CONF" | grep . | paste -sd ' ' || true)"
}

# ensure_instance makes postmulti ready and creates the instance once.
ensure_instance() {
	if [ -z "$(postconf -h multi_instance_wrapper 2>/dev/null)" ]; then
		postmulti -e init
	fi
	if [ "$(registered)" = yes ] && [ -f "$CONF/main.cf" ] &&
		[ -d "$QUEUE" ]; then
		return
	fi
	# Leftovers of an earlier, interrupted run: start over.
	kill_master
	if [ "$(registered)" = yes ]; then
		unregister
	fi
	rm -rf "$CONF" "$QUEUE" "$DATA"
	postmulti -I "$NAME" -e create
}

# tls_files prints the certificate and key smtpd should use: Debian's
# snakeoil pair when installed, else a self-signed pair made once.
tls_files() {
	local cert=/etc/ssl/certs/ssl-cert-snakeoil.pem
	local key=/etc/ssl/private/ssl-cert-snakeoil.key
	if [ -r "$cert" ] && [ -r "$key" ]; then
		echo "$cert $key"
		return
	fi
	cert=$CONF/tls-cert.pem
	key=$CONF/tls-key.pem
	if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj /CN=gst.localdomain -keyout "$key" \
			-out "$cert" 2>/dev/null
		chmod 600 "$key"
	fi
	echo "$cert $key"
}

# write_main_cf LOGFILE CERT KEY writes the instance's whole main.cf.
write_main_cf() {
	local log=$1 cert=$2 key=$3
	cat >"$CONF/main.cf" <<EOF
# Written by go-smtp-source's test/postfix/mta.sh; rewritten on each start.
compatibility_level = 3.7
multi_instance_name = $NAME
multi_instance_enable = yes
queue_directory = $QUEUE
data_directory = $DATA
myhostname = gst.localdomain
mydomain = localdomain
myorigin = \$myhostname
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = example.com, example.net, smtp.example.com
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject
default_transport = discard
relay_transport = discard
local_transport = discard
virtual_transport = discard
maillog_file = $log
maillog_file_prefixes = /var, /dev/stdout, $(dirname "$log")
smtpd_tls_cert_file = $cert
smtpd_tls_key_file = $key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
# Short queue ids (inode and microseconds) come back once a message is
# gone, and two messages would count as one in the tests' log counts;
# long ones are unique over time.
enable_long_queue_ids = yes
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
smtpd_client_auth_rate_limit = 0
smtpd_error_sleep_time = 0
in_flow_delay = 0
default_process_limit = 200
EOF
}

# write_master_cf PORT SMTPSPORT writes the instance's whole master.cf:
# the two listeners plus the internal services, none chrooted.
write_master_cf() {
	cat >"$CONF/master.cf" <<EOF
# Written by go-smtp-source's test/postfix/mta.sh; rewritten on each start.
127.0.0.1:$1 inet n - n - - smtpd
127.0.0.1:$2 inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
virtual    unix  - n n -     - virtual
lmtp       unix  - - n -     - lmtp
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}

# master_pids prints the pids of the instance's master processes.
# Postfix's master runs in its queue directory, which tells it apart
# from other instances' masters.
master_pids() {
	local p cwd
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = master ] || continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in
		"$QUEUE" | "$QUEUE (deleted)") echo "${p#/proc/}" ;;
		esac
	done
}

# wait_master_gone waits up to 10 s for the master to exit.
wait_master_gone() {
	local i
	for i in $(seq 100); do
		[ -z "$(master_pids)" ] && return 0
		sleep 0.1
	done
	return 1
}

# kill_master ends the instance's master when "postfix stop" cannot
# (its main.cf or queue is gone).
kill_master() {
	local pids
	pids=$(master_pids)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086 # a list of pids
	kill $pids 2>/dev/null || true
	wait_master_gone || die "master ($pids) did not exit"
}

# running succeeds when the instance's master process is up.
running() {
	postfix -c "$CONF" status >/dev/null 2>&1
}

# wait_port PORT waits up to 10 s for 127.0.0.1:PORT to accept.
wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "postfix did not open 127.0.0.1:$1"
}

stop() {
	if [ "$(registered)" != yes ] || [ ! -f "$CONF/main.cf" ]; then
		return
	fi
	if running; then
		postmulti -i "$NAME" -p stop >/dev/null 2>&1 ||
			postfix -c "$CONF" stop
	fi
	# "postfix stop" does not wait for the master to finish.
	wait_master_gone || kill_master
	# Disabled, it stays down when someone starts the default instance.
	postmulti -i "$NAME" -e disable >/dev/null 2>&1 || true
}

start() {
	[ $# -ge 3 ] || usage
	local port=$1 smtps=$2 log=$3
	shift 3
	[ "$(id -u)" = 0 ] || die "must run as root"
	case $log in /*) ;; *) die "LOGFILE must be absolute: $log" ;; esac

	ensure_instance
	stop
	write_master_cf "$port" "$smtps"
	# shellcheck disable=SC2046 # two words: cert and key
	write_main_cf "$log" $(tls_files)
	if [ $# -gt 0 ]; then
		postconf -c "$CONF" -e "$@"
	fi
	# Mail left by an interrupted run would show up in the new log.
	if [ -n "$(find "$QUEUE"/{incoming,active,deferred,hold,maildrop} \
		-type f -print -quit 2>/dev/null)" ]; then
		postsuper -c "$CONF" -d ALL >/dev/null 2>&1 || true
	fi
	: >"$log"

	# "postfix start" runs "postfix check" first.
	postmulti -i "$NAME" -e enable
	postmulti -i "$NAME" -p start
	wait_port "$port"
	wait_port "$smtps"
}

destroy() {
	stop
	if [ "$(registered)" = yes ]; then
		postsuper -c "$CONF" -d ALL >/dev/null 2>&1 || true
		# It leaves sockets and pid files behind; removed below.
		postmulti -i "$NAME" -e destroy >/dev/null 2>&1 || unregister
	fi
	rm -rf "$CONF" "$QUEUE" "$DATA"
}

case ${1:-} in
start) shift; start "$@" ;;
stop) stop ;;
destroy) destroy ;;
*) usage ;;
esac
