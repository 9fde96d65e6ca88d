package sink

import (
	"bytes"
	"io"
	"regexp"
	"testing"
)

// replyLine is what every line the server writes must look like.
var replyLine = regexp.MustCompile(`^[2-5]\d\d[ -][^\r\n]*\r\n`)

// checkReplies fails unless out is a sequence of well-formed reply
// lines.
func checkReplies(t *testing.T, out []byte) {
	for len(out) > 0 {
		m := replyLine.Find(out)
		if m == nil {
			t.Fatalf("malformed reply at %q", out[:min(len(out), 80)])
		}
		out = out[len(m):]
	}
}

// fuzzServer makes a server whose options come from the bits of b.
func fuzzServer(t *testing.T, b byte) *Server {
	cfg := Config{LMTP: b&1 != 0, NoESMTP: b&2 != 0, Chunking: b&4 != 0,
		Size: b&8 != 0, MaxSize: 100, MaxChunk: 64, SMTPUTF8: b&16 != 0}
	if b&32 != 0 {
		cfg.Actions[CmdRcpt] = ActSoftReject
	}
	if b&64 != 0 {
		cfg.Faults = []Fault{{Command: CmdDot, Percent: 50,
			Reply: "554 5.7.1 No"}}
	}
	if b&128 != 0 {
		cfg.Users, cfg.AuthRequired = Users{"u": "p"}, true
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// FuzzSession feeds arbitrary bytes to the command loop: it must end,
// never panic, and write only well-formed replies.
func FuzzSession(f *testing.F) {
	f.Add(byte(0), []byte("EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\n"+
		"DATA\r\nhi\r\n.\r\nQUIT\r\n"))
	f.Add(byte(1), []byte("LHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\n"+
		"RCPT TO:<c>\r\nDATA\r\n\r\n.\r\n.\r\n.\r\n"))
	f.Add(byte(4), []byte("EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\n"+
		"BDAT 3\r\nabcBDAT 0 LAST\r\nBDAT 99999\r\n"))
	f.Add(byte(8), []byte("MAIL FROM:<a> SIZE=1000\r\n\x00\r\n\n\r\r\n"))
	f.Add(byte(96), []byte("HELO \xff\t\r\nMAIL\r\nRCPT\r\nDATA\r\n.x\r\n"+
		"\r\n.\r\n"))
	f.Add(byte(128), []byte("EHLO x\r\nAUTH PLAIN AHUAcA==\r\n"+
		"AUTH LOGIN\r\ndQ==\r\n*\r\nAUTH CRAM-MD5\r\ndSAwMA==\r\n"+
		"AUTH PLAIN\r\n=\r\nMAIL FROM:<a>\r\n"))
	f.Fuzz(func(t *testing.T, opts byte, in []byte) {
		srv := fuzzServer(t, opts)
		var out bytes.Buffer
		runSession(srv, &fakeConn{r: bytes.NewReader(in), w: &out})
		checkReplies(t, out.Bytes())
		if st := srv.Stats(); st.Bytes > int64(len(in)) {
			t.Fatalf("%d message bytes from %d input bytes", st.Bytes,
				len(in))
		}
	})
}

// FuzzBdat feeds arbitrary chunks after a valid envelope.
func FuzzBdat(f *testing.F) {
	f.Add([]byte("BDAT 5 LAST\r\nhello"))
	f.Add([]byte("BDAT 2\r\n\r\nBDAT 3\r\n.\r\nBDAT 0 LAST\r\n"))
	f.Add([]byte("BDAT 1\r\n.BDAT 65\r\n"))
	f.Add([]byte("BDAT 9223372036854775807\r\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := fuzzServer(t, 4)
		var out bytes.Buffer
		head := "EHLO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\n"
		r := io.MultiReader(bytes.NewReader([]byte(head)),
			bytes.NewReader(in))
		runSession(srv, &fakeConn{r: r, w: &out})
		checkReplies(t, out.Bytes())
		if st := srv.Stats(); st.Bytes > int64(len(in)) {
			t.Fatalf("%d message bytes from %d input bytes", st.Bytes,
				len(in))
		}
	})
}

// refScan is the plain byte-at-a-time end-of-data matcher of smtp-sink,
// the reference for scanData.
func refScan(data []byte) (n int, done bool, dump []byte) {
	st := stCRLF
	for i, c := range data {
		next := st.step(c)
		if c != '\r' && next != stCRLFDot {
			dump = append(dump, c)
		}
		st = next
		if st == stEnd {
			return i + 1, true, dump
		}
	}
	return len(data), false, dump
}

// FuzzDataReader checks the DATA scanner, fed in chunks of any size,
// against the reference, and that only CR LF . CR LF ends the data.
func FuzzDataReader(f *testing.F) {
	f.Add([]byte("a\r\n.\r\n"), byte(1))
	f.Add([]byte(".\r\n"), byte(3))
	f.Add([]byte("x\n.\nMAIL\r\n\r\n.\n\r\n..\r\n.\r\n"), byte(2))
	f.Add([]byte("\r\r\n.\r\r\n.\r\n"), byte(5))
	f.Add([]byte("\r.\r\n\n.\r\n\r\n.x\r\n.\r"), byte(7))
	f.Fuzz(func(t *testing.T, data []byte, chunk byte) {
		wantN, wantDone, wantDump := refScan(data)
		size := int(chunk%16) + 1

		var dump bytes.Buffer
		st, n, done := stCRLF, 0, false
		for n < len(data) && !done {
			end := min(n+size, len(data))
			var used int
			used, done = scanData(data[n:end], &st, &dump)
			n += used
		}
		if n != wantN || done != wantDone {
			t.Fatalf("scanData: %d bytes, done %v; want %d, %v", n, done,
				wantN, wantDone)
		}
		if !bytes.Equal(dump.Bytes(), wantDump) {
			t.Fatalf("dump %q, want %q", dump.Bytes(), wantDump)
		}

		// The end is exactly the first CR LF . CR LF, counting the CR
		// LF that ended the DATA command.
		full := append([]byte("\r\n"), data...)
		i := bytes.Index(full, []byte("\r\n.\r\n"))
		if done != (i >= 0) || (done && n != i+5-2) {
			t.Fatalf("end at %d (done %v), CRLF.CRLF at %d", n, done, i)
		}
	})
}

// FuzzCommandLine checks the command splitter and verb lookup.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"MAIL FROM:<a>", " \tquit", "HELO a\x00b",
		"rCpT TO:<x> NOTIFY=NEVER", "", "\xff\xfe", "LAST 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, args, ok := splitCommand(line)
		if !ok {
			if len(bytes.Trim(bytes.SplitN(line, []byte{0}, 2)[0],
				" \t")) != 0 {
				t.Fatalf("no verb in %q", line)
			}
			return
		}
		if len(verb) == 0 || bytes.ContainsAny(verb, " \t\x00") ||
			bytes.IndexByte(args, 0) >= 0 {
			t.Fatalf("splitCommand(%q) = %q, %q", line, verb, args)
		}
		if c, ok := lookupCommand(verb); ok &&
			!bytes.EqualFold(verb, []byte(c.String())) {
			t.Fatalf("verb %q looked up as %v", verb, c)
		}
		pathArgs(args, true)
		heloArgs(args, false)
	})
}
