package main

import (
	"errors"
	"strings"

	"github.com/pborman/getopt/v2"
)

// isGetoptError tells a command-line syntax error from a bad value.
func isGetoptError(err error) bool {
	var ge *getopt.Error
	return errors.As(err, &ge)
}

// helpText is the --help output; docs/go-smtp-sink.1 says the same.
func helpText(prog string) string {
	return strings.ReplaceAll(help, "PROG", prog)
}

const help = `usage: PROG [options] [inet:][host]:port backlog
       PROG [options] unix:pathname backlog

An SMTP/LMTP test server that takes mail and throws it away, a drop-in
replacement for Postfix's smtp-sink(1) with the same options, replies
and dump format. Times are in seconds.

smtp-sink options:
  -4, -6        listen on IPv4 only, IPv6 only
  -8            do not announce 8BITMIME
  -a            do not announce AUTH (AUTH still answers 250, or runs
                the real exchange with --auth-users)
  -A delay      after 354, wait delay, reply 550 and hang up
  -b reply      soft reject reply (450 4.3.0 Error: command failed)
  -B reply      hard reject reply (500 5.3.0 Error: command failed)
  -c            counter "sess=N quit=N mesg=N\r" on stdout, and a rate
                line each second on stderr
  -C            disable XCLIENT
  -d template   dump each transaction to its own file: strftime(3)
                template plus 8 random hex digits
  -D template   append each finished transaction to one file
  -e            no ESMTP: EHLO disabled, no "ESMTP" in the greeting
  -E            do not announce ENHANCEDSTATUSCODES
  -f cmds       reject cmds with the -B reply (implies -p)
  -F            disable XFORWARD
  -h hostname   name in greeting, HELO/EHLO replies, dumps (smtp-sink)
  -H delay      wait delay before reading message content
  -L            LMTP: LHLO only, one reply per recipient after "."
  -m count      at most count sessions at once (256)
  -M count      exit after count messages
  -n count      exit after count QUIT commands
  -N            do not announce DSN
  -p            do not announce PIPELINING
  -P            greeting "220 ********" as behind a Cisco PIX; implies -e
  -q cmds       hang up without replying after cmds
  -Q cmds       reply 421 and hang up after cmds
  -r cmds       reject cmds with the -b reply (implies -p)
  -R dir        chroot to dir after opening the listener
  -s cmds       log cmds to syslog (mail.info)
  -S string     prefix each dump with string (C escapes \n \t \ddd ...)
  -t timeout    idle time limit for reads and writes (100)
  -T size       TCP send and receive buffer size of the listener
  -u user       switch to user after opening the listener
  -v            log connects, command lines and disconnects
  -w delay      wait delay before replying to DATA (-W data:delay)
  -W cmd:delay[:odds]
                wait delay before replying to cmd; with odds (1-99) a
                random multiple of delay
  cmds are names separated by commas or blanks: connect helo ehlo lhlo
  xclient xforward auth mail rcpt data . rset noop vrfy quit (and bdat,
  starttls).

Extensions (off by default, so the dialogue stays smtp-sink's):
  --starttls           announce and accept STARTTLS
  --smtps              implicit TLS: every session starts with a handshake
  --tls-cert file      PEM certificate (implies --starttls unless --smtps)
  --tls-key file       PEM key; without cert and key a self-signed ECDSA
                       P-256 certificate is made at start
  --chunking           announce CHUNKING and accept BDAT
  --max-chunk bytes    largest BDAT chunk taken (67108864); larger ones
                       are read and refused with 552
  --max-size bytes     announce SIZE bytes; refuse MAIL SIZE= and
                       messages above it with 552 (0: no limit)
  --smtputf8           announce SMTPUTF8, keep UTF-8 in dump headers
  --auth-users file    real AUTH PLAIN, LOGIN and CRAM-MD5 (RFC 4954)
                       against file: one user:password a line, # for
                       comments, plaintext passwords (CRAM-MD5 needs
                       them); without it AUTH answers 250 at once
  --auth-required      MAIL before a successful AUTH gets 530
  --auth-tls-only      offer and take AUTH only under TLS (538 before);
                       by default AUTH is offered in plain text too
  --fault cmd:pct:action
                       hit pct percent of cmd's replies; action is a
                       reply ("450", "550 5.1.1 No such user"),
                       "delay=2s" or "disconnect"; repeatable
  --seed n             seed for --fault and -W odds (0)
  --delivery           match the stamps of go-smtp-source --unique-headers:
                       arrivals, duplicates, out-of-order, foreign and
                       unstamped messages, and the latency from send to
                       arrival (summary at exit); implied by --out and
                       --run-id
  --run-id id          take only run id's messages (default: the run of
                       the first stamped message; others are foreign)
  --out file           write the delivery result document to file at
                       exit, for go-smtp-source report source.json file;
                       the file is opened at startup, before -u and -R
  --no-summary         no summary line on stderr at exit
  --help               this text

Exit status: 0 after -n or -M, or SIGINT or SIGTERM (with a summary
line on stderr); 1 on a fatal error.

Examples:
  PROG -u nobody -c 127.0.0.1:2525 1000
  PROG -D /tmp/dump.%Y%m%d 127.0.0.1:2525 100
  PROG -L -f rcpt unix:/tmp/lmtp.sock 100
  PROG -W rcpt:1:50 --fault rcpt:5%:450 --seed 7 :2525 100
  PROG --starttls --chunking --max-size 10485760 127.0.0.1:2525 100
  PROG --starttls --auth-users users.txt --auth-required :2525 100
  PROG --run-id e2e --out sink.json 127.0.0.1:2526 100
`
