package main

// helpText is printed by --help. docs/go-smtp-source.1 says the same at
// more length; a test keeps the two listing the same options.
const helpText = `usage: go-smtp-source [options] [inet:]host[:port]
       go-smtp-source [options] unix:pathname
       go-smtp-source [options] sink:
       go-smtp-source report [--format text|json|html] FILE...
       go-smtp-source merge [--from-logs] [-o FILE] FILE...

Send mail to an SMTP or LMTP server over parallel sessions, as Postfix's
smtp-source(1) does, byte for byte, and report how fast it went.

smtp-source options:
  -4             connect with IPv4 only
  -6             connect with IPv6 only
  -A             don't abort on a negative reply: warn, RSET and go on
  -c             print a running counter of messages to stdout
  -C count       connection attempts per session (default 1)
  -d             don't disconnect after a message; reuse the session
  -f from        envelope sender (default foo@myhostname; "" for <>)
  -F file        send this preformatted message (headers and body)
  -l length      send length bytes of generated payload
  -L             speak LMTP (LHLO) instead of SMTP
  -m count       messages in total, across all sessions (default 1)
  -M myhostname  name for HELO, default addresses and Message-Id
  -N             number recipients with a unique sequence number
  -o             old mode: no HELO and no generated headers
  -r count       recipients per transaction (default 1)
  -R interval    random pause of 0..interval s between a session's messages
  -s count       sessions at once (default 1)
  -S subject     add a Subject header
  -t to          envelope recipient (default foo@myhostname)
  -T windowsize  TCP send and receive buffer size
  -v             verbose: print each command and reply line (repeatable)
  -w interval    fixed pause of interval s between a session's messages

Options of the earlier Go tool of this name:
  -tls           same as --starttls
  -resolve-once  accepted; the target is always resolved once
  -q qps         pace message starts at qps per second (same as --rate)

Our options:
  --starttls[=required|opportunistic]
                 greet with EHLO and upgrade to TLS (default: required;
                 opportunistic goes on in plain text when not offered)
  --smtps        implicit TLS: the handshake right after connecting,
                 before the banner (port 465)
  --ehlo         greet with EHLO even when no extension asks for it
  --tls-verify   verify the server's certificate (default: don't)
  --tls-ca file  with --tls-verify, trust the PEM certificates in file
                 instead of the system's
  --tls-server-name name
                 name sent (SNI) and verified (default: the target host)
  --tls-cert file
                 client certificate (PEM), with --tls-key
  --tls-key file client certificate's private key (PEM)
  --tls-min-version v
                 lowest TLS version: 1.0, 1.1, 1.2 or 1.3 (default 1.2)
  --tls-max-version v
                 highest TLS version (default 1.3)
  --tls-ciphers list
                 TLS 1.2 cipher suites, comma-separated, as Go names
                 them (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256...)
  --tls-resume   resume TLS sessions across connections (counted in the
                 result as resumed)
  --auth-user user
                 authenticate as user (AUTH, after STARTTLS if asked)
  --auth mech    plain, login, cram-md5, xoauth2 or auto (default: the
                 first of PLAIN, LOGIN, CRAM-MD5 the server offers)
  --auth-password pw
                 the password (or XOAUTH2 token); visible in ps(1)
  --auth-password-env var
                 read the password from environment variable var
  --auth-password-file file
                 read the password from file (its final newline dropped)
  --rate N[/unit]  start messages at N per second, minute (m), hour (h)
                 or per duration (/100ms)
  --duration d   run for d (30s, 5m) instead of a message count (with
                 a count too, whichever ends first)
  --max-lateness d
                 with --rate, drop a message that cannot start within d
                 of its scheduled time (counted as dropped)
  --out file     write the result document (JSON: counters, latency
                 histograms, per-second series) to file; - is stdout,
                 as GO-SMTP-SOURCE-RESULT/1 frames when --run-id is given
  --metrics-addr host:port
                 serve Prometheus metrics at http://host:port/metrics
                 (and /readyz, up from before the start)
  --linger d     with --metrics-addr, serve the final metrics d longer
  --no-metrics   measure nothing beyond the summary counts
  --numbering 3.7|3.9
                 recipient numbering of Postfix 3.7 (default: a number
                 prepended) or of Postfix >= 3.9 (appended to the
                 localpart, starting at 0, turned on by -N or -r)
  --postfix-file-bytes
                 send -F files with smtp-source's exact bytes (CR kept,
                 an extra empty line before the final dot)
  --pipelining   greet with EHLO and, when the server offers PIPELINING,
                 send MAIL, RCPT... and DATA in one write (with -d, in
                 the write of the message before)
  --chunking     greet with EHLO and, when the server offers CHUNKING,
                 send the message with BDAT instead of DATA
  --chunk-size n BDAT chunks of n bytes (k, m, g suffixes; default:
                 the whole message in one chunk)
  --eml path|dir|glob
                 send these message files, round robin (message g is
                 file g mod n; a directory means its *.eml files)
  --unique-headers
                 add X-Smtp-Source-Run, -Seq and -Sent headers to each
                 message (the run id, its number, the time it was sent)
  --run-id id    name of the run: letters, digits and . _ : - (in the
                 result, and the X-Smtp-Source-Run of --unique-headers;
                 default: random); the same for every shard
  --connect-timeout d   give up connecting after d (default 60s)
  --connect-limit n     at most n connects in progress at once
                 (default 8; 0: no limit; smtp-source makes one)
  --banner-timeout d    give up waiting for the greeting (default 300s)
  --reply-timeout d     give up waiting for a reply (default 300s)
                 (0 waits forever, as smtp-source does)
  --seed n       seed of the -R random pauses (default: the process id;
                 in a sharded run, derived from --run-id)
  --no-summary   don't print the end-of-run summary on stderr
  --cpuprofile file  write a CPU profile (go tool pprof) to file
  -h, --help     print this help

Distributed runs (see deploy/README.md):
  --shard K/N|auto
                 be shard K of N: send the messages g with g mod N = K
                 and a share of -s; auto reads the engine's environment
                 (Kubernetes, Slurm srun, Open MPI, Nomad)
  --shard-keys a,b,c|@file
                 every shard's key in order; K is this one's position
  --shard-key key
                 this shard's key in --shard-keys (default: hostname)
  --start-at time
                 get ready, then start at an RFC 3339 time or +30s
  --max-start-delay d
                 exit 3 without connecting when later than --start-at
                 by more than d (default 1s)
  --version      print the version

The report command prints one result document written with --out, or
several merged exactly (see report --help). The merge command combines
the shards' results, from files or from logs holding their frames, into
one (see merge --help). Hosts named "report" or "merge" are reached as
inet:report and inet:merge.

Targets: host, host:port, [host]:port, [ipv6]:port, inet:host:port
(port default 25, service names allowed), unix:/path, and sink: for a
built-in sink on a loopback port (no server needed).

Exit status: 0 when every message was handed off, 1 on a fatal error
(bad option, unreachable server, a negative reply without -A), 3 when
--start-at was missed (nothing sent), 4 when stopped by SIGTERM or
SIGINT (the first lets transactions in flight end, closes sessions not
yet greeted, and writes a partial result; a second cuts them short).

Examples:
  go-smtp-source -s 100 -m 10000 sink:
      10,000 messages over 100 sessions into the built-in sink
  go-smtp-source -s 20 -d -m 100000 -l 4096 127.0.0.1:2525
      100,000 messages of 4 kB, reusing 20 connections
  go-smtp-source -A -N -r 5 -m 1000 -t user+@example.com mx.test:25
      numbered recipients, warnings instead of aborts
  go-smtp-source --starttls -s 10 -m 1000 127.0.0.1:587
  GST_PW=secret go-smtp-source --smtps --tls-resume --auth-user u \
      --auth-password-env GST_PW -s 10 -m 1000 mx.test:465
`
