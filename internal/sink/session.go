package sink

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// Replies of smtp-sink, word for word.
const (
	replyOK        = "250 2.0.0 Ok"
	replyMailOK    = "250 2.1.0 Ok"
	replyRcptOK    = "250 2.1.5 Ok"
	replyDotLMTP   = "250 2.2.0 Ok"
	replyData      = "354 End data with <CR><LF>.<CR><LF>"
	replyBye       = "221 Bye"
	replyNested    = "503 5.5.1 Error: nested MAIL command"
	replyNeedMail  = "503 5.5.1 Error: need MAIL command"
	replyNeedRcpt  = "503 5.5.1 Error: need RCPT command"
	replyUnknown   = "500 5.5.1 Error: unknown command"
	replyEmpty     = "500 5.5.2 Error: unknown command"
	replyClosing   = "421 4.0.0 Server closing connection"
	replyAbort     = "550 This violates SMTP"
	replyTooBig    = "552 5.3.4 Message size exceeds fixed limit"
	replyChunkBig  = "552 5.3.4 Error: BDAT chunk too large"
	replyBdatSyn   = "501 5.5.4 Syntax: BDAT count [LAST]"
	replyBdatMixed = "503 5.5.1 Error: DATA after BDAT"
	replyTLSReady  = "220 2.0.0 Ready to start TLS"
	replyTLSSyntax = "501 5.5.4 Syntax: STARTTLS"
	replyTLSInMail = "503 5.5.1 Error: MAIL transaction in progress"
)

// session is one client connection, from accept to close.
type session struct {
	srv  *Server
	cfg  *Config
	log  *slog.Logger
	conn net.Conn
	r    *bufio.Reader
	out  []byte // replies not yet written
	line []byte // a command line that came in pieces
	rng  *rand.Rand
	seq  uint64 // session number, for the dice

	// Client, as the dump records it.
	addr  string // "127.0.0.1", "ipv6:::1" or "local", with dumps only
	tls   bool
	helo  string // HELO, EHLO or LHLO argument, kept only for dumps
	proto string // SMTP, ESMTP, LMTP (and ESMTPS, LMTPS under TLS)

	// Real AUTH succeeded; only STARTTLS forgets it.
	authed bool

	// Transaction, as smtp-sink keeps it: rcpts is not reset by RSET,
	// and an LMTP "." counts it down below zero.
	inMail   bool
	rcpts    int
	bdat     bool  // the content comes in BDAT chunks
	msgBytes int64 // content so far
	dump     *dumpFile
	stamp    *headerCatch // the header section, with Config.Delivery

	deadline time.Time // of reads and writes, renewed now and then
	inLine   bool      // reading a command line: no renewal per read

	quiet   bool // no "disconnect" line with -v
	noFlush bool // the server stops: drop unsent replies
}

// readBufSize is the size of a session's read buffer.
const readBufSize = 16 << 10

// connectVerb and dotVerb name the pseudo commands in logs.
var (
	connectVerb = []byte("connect")
	dotVerb     = []byte(".")
)

// reset readies a pooled session for a new connection.
func (s *session) reset(srv *Server, conn net.Conn) {
	*s = session{
		srv:   srv,
		cfg:   &srv.cfg,
		log:   srv.log,
		conn:  conn,
		r:     s.r,
		out:   s.out[:0],
		line:  s.line[:0],
		seq:   srv.seq.Add(1),
		proto: "SMTP",
	}
	s.r.Reset(conn)
	if s.cfg.LMTP {
		s.proto = "LMTP"
	}
	if srv.dumper != nil {
		family, addr := clientAddr(conn)
		if family == "AF_INET6" {
			addr = "ipv6:" + addr
		}
		s.addr = addr
	}
}

// release drops what a pooled session must not keep.
func (s *session) release() {
	s.r.Reset(nil)
	s.conn = nil
	s.dump = nil
	s.rng = nil
	if cap(s.line) > 4*maxLineLength {
		s.line = nil
	}
	if cap(s.out) > 64<<10 {
		s.out = nil
	}
}

// serve runs the session to its end.
func (s *session) serve() {
	defer s.end()
	if s.cfg.ImplicitTLS && !s.handshake() {
		return
	}
	if s.command(CmdConnect, connectVerb, nil) {
		s.quiet = true // smtp-sink logs no "disconnect" here
		return
	}
	for !s.noFlush {
		line, err := s.readLine(maxLineLength)
		if err != nil {
			s.readFailed(err)
			return
		}
		verb, args, ok := splitCommand(line)
		if s.cfg.Verbose {
			s.logCommand(line, verb, args)
		}
		if !ok {
			s.reply(replyEmpty)
			continue
		}
		cmd, ok := lookupCommand(verb)
		if !ok || !s.srv.enabled[cmd] || (cmd == CmdStarttls && s.tls) {
			s.reply(replyUnknown)
			continue
		}
		if s.command(cmd, verb, args) {
			return
		}
	}
}

// logCommand writes a command line to the -v log, as smtp-sink does,
// but with the secrets of AUTH left out.
func (s *session) logCommand(line, verb, args []byte) {
	if !equalFold(verb, "auth") {
		s.log.Info(printable(cString(line), false))
		return
	}
	s.log.Info(printable(verb, false) + " " + redactAuth(args))
}

// end closes the session: unsent replies go out as smtp-sink's close
// does, an unfinished dump is dropped, the counters move.
func (s *session) end() {
	if s.cfg.Verbose && !s.quiet {
		s.log.Info("disconnect")
	}
	if !s.noFlush && !s.srv.stopping() && len(s.out) > 0 {
		s.renewDeadline()
		s.flush()
	}
	s.conn.Close()
	s.mailReset()
	s.srv.sessionEnded()
}

// command runs one command, or the pseudo commands "connect" and ".",
// through smtp-sink's fault options, the --fault rolls and the -W delay,
// and reports whether the session ends.
func (s *session) command(cmd Command, verb, args []byte) bool {
	act := s.cfg.Actions[cmd]
	if act&ActSyslog != 0 {
		s.syslog(cmd, verb, args)
	}
	switch {
	case act&ActDisconnect != 0:
		s.notAccepted(cmd)
		return true
	case act&ActClose != 0:
		s.notAccepted(cmd)
		s.reply(replyClosing)
		return true
	case act&ActHardReject != 0:
		return s.reject(cmd, args, s.cfg.HardReply)
	case act&ActSoftReject != 0:
		return s.reject(cmd, args, s.cfg.SoftReply)
	}

	delay := time.Duration(0)
	if d := s.cfg.Delays[cmd]; d.Delay > 0 {
		delay = d.delayFor(s.random())
	}
	for _, f := range s.srv.faults[cmd] {
		if s.random().Float64()*100 >= f.Percent {
			continue
		}
		switch {
		case f.Disconnect:
			s.notAccepted(cmd)
			return true
		case f.Reply != "":
			return s.reject(cmd, args, f.Reply)
		}
		delay += f.Delay
	}
	if delay > 0 {
		s.pause(delay)
	}
	return s.respond(cmd, verb, args)
}

// notAccepted counts a message whose end of data ends the session
// without a positive reply (-q or -Q on ".", a disconnect fault), as
// dotReply counts a refused one, so that Messages − Refused is what
// clients were told was accepted.
func (s *session) notAccepted(cmd Command) {
	if cmd == CmdDot {
		s.srv.refused.Add(1)
	}
}

// reject answers a command with a fault reply instead of running it. A
// BDAT chunk is still read, to keep the framing (RFC 3030), and an
// LMTP "." gets one reply per recipient. A 421 ends the session.
func (s *session) reject(cmd Command, args []byte, reply string) bool {
	switch cmd {
	case CmdBdat:
		return s.bdatCommand(args, reply)
	case CmdDot:
		s.dotReply(reply)
	default:
		s.reply(reply)
	}
	return len(reply) >= 3 && reply[:3] == "421"
}

// respond gives a command smtp-sink's reply and does what it does.
func (s *session) respond(cmd Command, verb, args []byte) bool {
	switch cmd {
	case CmdConnect:
		s.reply(s.srv.banner)
	case CmdHelo:
		s.mailReset()
		s.proto = "SMTP"
		s.reply("250 " + s.cfg.Hostname)
		s.keepHelo(args)
	case CmdEhlo, CmdLhlo:
		s.mailReset()
		if !s.cfg.LMTP {
			s.proto = s.protoName("ESMTP")
		}
		s.out = append(s.out, s.srv.ehlo[btoi(s.tls)]...)
		s.keepHelo(args)
	case CmdMail:
		s.mail(args)
	case CmdRcpt:
		s.rcpt(args)
	case CmdData:
		return s.data()
	case CmdDot:
		s.dotReply("")
	case CmdRset:
		s.mailReset()
		s.reply(replyMailOK)
	case CmdQuit:
		s.reply(replyBye)
		s.srv.quit()
		s.flushNow()
		return true
	case CmdBdat:
		return s.bdatCommand(args, "")
	case CmdStarttls:
		return s.starttls(args)
	case CmdAuth:
		if s.cfg.Users == nil {
			s.reply(replyOK) // smtp-sink's AUTH, with no exchange
			return false
		}
		return s.auth(args)
	default: // XCLIENT, XFORWARD, NOOP, VRFY
		s.reply(replyOK)
	}
	return false
}

// keepHelo records the HELO argument for the dump's headers.
func (s *session) keepHelo(args []byte) {
	if s.srv.dumper != nil {
		s.helo = heloArgs(args, s.cfg.SMTPUTF8)
	}
}

// mail starts a transaction.
func (s *session) mail(args []byte) {
	if s.cfg.AuthRequired && !s.authed {
		s.reply(replyAuthRequired) // RFC 4954 section 6
		return
	}
	if s.inMail {
		s.reply(replyNested)
		return
	}
	if s.cfg.Size && s.cfg.MaxSize > 0 && mailSize(args) > s.cfg.MaxSize {
		s.reply(replyTooBig)
		return
	}
	s.inMail = true
	s.rcpts = 0
	s.reply(replyMailOK)
	if s.srv.dumper == nil {
		return
	}
	df, err := s.srv.dumper.open(time.Now())
	if err != nil {
		s.srv.fail(err)
		s.noFlush = true
		return
	}
	s.dump = df
	df.header(s.addr, s.proto, s.helo, pathArgs(args, s.cfg.SMTPUTF8))
}

// rcpt adds a recipient.
func (s *session) rcpt(args []byte) {
	if !s.inMail {
		s.reply(replyNeedMail)
		return
	}
	s.rcpts++
	s.reply(replyRcptOK)
	if s.dump != nil {
		s.dump.rcpt(pathArgs(args, s.cfg.SMTPUTF8))
	}
}

// data takes the message content, then runs the "." pseudo command.
func (s *session) data() bool {
	switch {
	case !s.inMail || s.rcpts == 0:
		s.reply(replyNeedRcpt)
		return false
	case s.bdat:
		s.reply(replyBdatMixed)
		return false
	}
	s.reply(replyData)
	if s.dump != nil {
		s.dump.received(s.cfg.Hostname, s.proto, s.helo, "["+s.addr+"]")
	}
	if s.cfg.Abort {
		s.pause(s.cfg.AbortWait)
		s.reply(replyAbort)
		s.quiet = true
		return true
	}
	if s.cfg.DataWait > 0 {
		s.pause(s.cfg.DataWait)
	}

	var w dumpWriter
	if s.dump != nil {
		w = s.dump.w
	}
	n, err := s.readData(s.deliveryWriter(w))
	s.msgBytes += n
	if err != nil {
		s.readFailed(err)
		return true
	}
	return s.endMessage()
}

// endMessage completes a message, DATA or BDAT, and runs ".".
func (s *session) endMessage() bool {
	if s.dump != nil {
		err := s.dump.finish()
		s.dump = nil
		if err != nil {
			s.srv.fail(err)
			s.noFlush = true
			return true
		}
	}
	tooBig := s.cfg.Size && s.cfg.MaxSize > 0 && s.msgBytes > s.cfg.MaxSize
	limit := s.srv.message(s.rcpts, s.msgBytes)
	s.mailReset()
	if limit {
		s.noFlush = true // smtp-sink exits before its reply to "."
		return true
	}
	if s.cfg.Verbose {
		s.log.Info(".") // smtp-sink runs "." as a command line
	}
	if tooBig {
		return s.reject(CmdDot, nil, replyTooBig)
	}
	return s.command(CmdDot, dotVerb, nil)
}

// dotReply answers the end of a message: once, or with LMTP once per
// recipient, counting rcpts down as smtp-sink does. An empty reply is
// the success reply.
func (s *session) dotReply(reply string) {
	if reply != "" && reply[0] != '2' {
		s.srv.refused.Add(1)
	} else {
		s.delivered()
	}
	if !s.cfg.LMTP {
		if reply == "" {
			reply = replyOK
		}
		s.reply(reply)
		return
	}
	if reply == "" {
		reply = replyDotLMTP
	}
	for {
		n := s.rcpts
		s.rcpts--
		if n <= 0 {
			return
		}
		s.reply(reply)
	}
}

// bdatCommand takes one BDAT chunk (RFC 3030). The chunk is read even
// when it is refused, so that its bytes are never taken as commands.
// A non-empty reject is the reply of a fault option.
func (s *session) bdatCommand(args []byte, reject string) bool {
	size, last, ok := parseBdat(args)
	if !ok {
		s.reply(replyBdatSyn)
		return false
	}

	take := reject == "" && s.inMail && s.rcpts > 0 &&
		size <= s.cfg.MaxChunk
	var w dumpWriter
	if take && s.dump != nil {
		if !s.bdat {
			s.dump.received(s.cfg.Hostname, s.proto, s.helo,
				"["+s.addr+"]")
		}
		w = s.dump.w
	}
	if take && !s.bdat {
		w = s.deliveryWriter(w)
	} else if take && s.stamp != nil && s.cfg.Delivery != nil {
		w = s.stamp.carry(w)
	}
	if err := s.readChunk(size, w); err != nil {
		s.readFailed(err)
		return true
	}

	switch {
	case reject != "":
		s.reply(reject)
		s.mailReset()
		return len(reject) >= 3 && reject[:3] == "421"
	case !s.inMail || s.rcpts == 0:
		s.reply(replyNeedRcpt)
		return false
	case size > s.cfg.MaxChunk:
		s.reply(replyChunkBig)
		s.mailReset()
		return false
	}
	s.bdat = true
	s.msgBytes += size
	if !last {
		s.reply(replyOK)
		return false
	}
	if w != nil {
		w.WriteByte('\n') // the empty line that ends a DATA dump
	}
	return s.endMessage()
}

// starttls runs the server side of STARTTLS (RFC 3207).
func (s *session) starttls(args []byte) bool {
	for _, c := range args {
		if !isSpace(c) {
			s.reply(replyTLSSyntax)
			return false
		}
	}
	if s.inMail {
		s.reply(replyTLSInMail)
		return false
	}
	s.reply(replyTLSReady)
	s.flushNow()

	// Commands pipelined behind STARTTLS came in plain text: throw them
	// away rather than run them as if they had come over TLS (RFC 3207
	// section 4.2, CVE-2011-0411).
	s.r.Discard(s.r.Buffered())
	if !s.handshake() {
		return true
	}

	// Forget all that was learned before the handshake, AUTH included
	// (RFC 3207 section 4.2).
	s.helo = ""
	s.proto = s.protoName("SMTP")
	s.rcpts = 0
	s.authed = false
	return false
}

// handshake makes the connection a TLS server connection.
func (s *session) handshake() bool {
	tc := tls.Server(s.conn, s.cfg.TLS)
	tc.SetDeadline(time.Now().Add(s.cfg.Timeout))
	if err := tc.Handshake(); err != nil {
		s.log.Warn("TLS handshake failed: " + err.Error())
		s.quiet = true
		s.noFlush = true
		return false
	}
	s.conn = tc
	s.deadline = time.Time{}
	s.r.Reset(tc)
	s.tls = true
	return true
}

// protoName returns the protocol name for the dump, with RFC 3848's
// "S" under TLS. Plain HELO stays "SMTP".
func (s *session) protoName(base string) string {
	if s.cfg.LMTP {
		base = "LMTP"
	}
	if s.tls && base != "SMTP" {
		return base + "S"
	}
	return base
}

// mailReset ends the transaction, as smtp-sink's mail_cmd_reset: the
// recipient count stays for an LMTP ".".
func (s *session) mailReset() {
	s.inMail = false
	s.bdat = false
	s.msgBytes = 0
	if s.dump != nil {
		s.dump.discard()
		s.dump = nil
	}
}

// reply queues one reply line.
func (s *session) reply(r string) {
	s.out = append(s.out, r...)
	s.out = append(s.out, '\r', '\n')
}

// flush writes the queued replies.
func (s *session) flush() error {
	if len(s.out) == 0 {
		return nil
	}
	_, err := s.conn.Write(s.out)
	s.out = s.out[:0]
	return err
}

// flushNow writes the queued replies now, as smtp-sink does for 221 and
// 220 to STARTTLS. A failure shows up at the next read.
func (s *session) flushNow() {
	s.renewDeadline()
	if err := s.flush(); err != nil {
		s.writeFailed(err)
	}
}

// pause sleeps without reading, after sending what is queued if no input
// is waiting: smtp-sink stops reading while it holds back a reply.
func (s *session) pause(d time.Duration) {
	if s.r.Buffered() == 0 {
		s.flushNow()
	}
	select {
	case <-time.After(d):
	case <-s.srv.done:
	}
}

// readFailed logs why reading stopped, in smtp-sink's words.
func (s *session) readFailed(err error) {
	var re readError
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		s.log.Warn("command line too long")
	case !errors.As(err, &re):
		s.writeFailed(err)
	case errors.As(err, &ne) && ne.Timeout():
		s.log.Warn("read timeout")
		s.quiet = true
	}
}

// writeFailed logs a failed write as smtp-sink does and ends the session.
func (s *session) writeFailed(err error) {
	s.quiet = true
	s.noFlush = true
	if s.srv.stopping() {
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.log.Warn("write timeout")
		return
	}
	s.log.Warn("lost connection")
}

// syslog writes the -s line for a command, without AUTH's secrets.
func (s *session) syslog(cmd Command, verb, args []byte) {
	if s.cfg.Syslog == nil {
		return
	}
	a := printable(args, false)
	if cmd == CmdAuth {
		a = redactAuth(args)
	}
	if len(a) > 100 {
		a = a[:100]
	}
	s.cfg.Syslog.Info(fmt.Sprintf("%s %s", verb, a))
}

// random returns the session's dice, made on first use.
func (s *session) random() *rand.Rand {
	if s.rng == nil {
		s.rng = sessionRand(s.srv.seed, s.seq)
	}
	return s.rng
}

// cString is line as C sees it: up to the first NUL.
func cString(line []byte) []byte {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		return line[:i]
	}
	return line
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
