package postfixtest

import (
	"slices"
	"strings"
	"testing"
)

// Two transactions as smtp-sink -D writes them, the second one in old
// mode (-o: no HELO, no header section).
const sampleDump = "X-Client-Addr: 127.0.0.1\n" +
	"X-Client-Proto: SMTP\n" +
	"X-Helo-Args: vm\n" +
	"X-Mail-Args: <foo@vm>\n" +
	"X-Rcpt-Args: <2foo@vm>\n" +
	"X-Rcpt-Args: <foo@vm>\n" +
	"Received: from vm ([127.0.0.1])\n" +
	"\tby smtp-sink (smtp-sink) with SMTP id 5d934318;\n" +
	"\tThu,  3 Dec 2026 16:26:40 +0000 (UTC)\n" +
	"From: <foo@vm>\n" +
	"To: <foo@vm>\n" +
	"Date: Thu,  3 Dec 2026 16:26:40 +0000 (UTC)\n" +
	"Message-Id: <18d4.0003.0000@vm>\n" +
	"\n" +
	"Date: a body line stays\n" +
	"\n" +
	"X-Client-Addr: local\n" +
	"X-Client-Proto: SMTP\n" +
	"X-Mail-Args: <>\n" +
	"X-Rcpt-Args: <a@b>\n" +
	"Received: from [local] ([local])\n" +
	"\tby smtp-sink (smtp-sink) with SMTP id 0476c195;\n" +
	"\tThu, 03 Dec 2026 16:26:41 +0000 (UTC)\n" +
	"La de da de da 1.\n" +
	"\n"

func TestNormalizeDump(t *testing.T) {
	got := string(NormalizeDump([]byte(sampleDump)))
	for _, want := range []string{
		"\tby smtp-sink (smtp-sink) with SMTP id ID;\n\tDATE\nFrom:",
		"Date: DATE\nMessage-Id: ID\n\nDate: a body line stays\n",
		"\tby smtp-sink (smtp-sink) with SMTP id ID;\n\tDATE\nLa de da",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("normalized dump lacks %q:\n%s", want, got)
		}
	}
	for _, gone := range []string{"5d934318", "0476c195", "16:26", "18d4"} {
		if strings.Contains(got, gone) {
			t.Errorf("normalized dump still holds %q:\n%s", gone, got)
		}
	}
	if strings.Count(got, "\n") != strings.Count(sampleDump, "\n") {
		t.Errorf("line count changed:\n%s", got)
	}
}

func TestTransactions(t *testing.T) {
	got := Transactions(NormalizeDump([]byte(sampleDump)))
	if len(got) != 2 {
		t.Fatalf("got %d transactions, want 2: %q", len(got), got)
	}
	// Sorted: "X-Client-Addr: 127..." before "X-Client-Addr: local".
	if !strings.HasPrefix(got[0], "X-Client-Addr: 127.0.0.1\n") ||
		!strings.HasPrefix(got[1], "X-Client-Addr: local\n") {
		t.Errorf("wrong order or split: %q", got)
	}
	// The sink's empty line after each message is gone, the message's
	// own empty lines stay.
	if !strings.HasSuffix(got[0], "\n\nDate: a body line stays\n") {
		t.Errorf("first record ends wrongly: %q", got[0])
	}
	if !strings.HasSuffix(got[1], "La de da de da 1.\n") {
		t.Errorf("second record ends wrongly: %q", got[1])
	}

	// The same transactions in the other order compare equal.
	i := strings.Index(sampleDump, "X-Client-Addr: local")
	swapped := sampleDump[i:] + sampleDump[:i]
	if !slices.Equal(Transactions(NormalizeDump([]byte(swapped))), got) {
		t.Errorf("order changed the transactions")
	}
}

func TestRecipients(t *testing.T) {
	got := Recipients([]byte(sampleDump))
	want := []string{"<2foo@vm>", "<a@b>", "<foo@vm>"}
	if !slices.Equal(got, want) {
		t.Errorf("Recipients = %q, want %q", got, want)
	}
}

func TestNormalizeStderr(t *testing.T) {
	in := "/usr/sbin/smtp-source: name_mask: all\n" +
		"smtp-source: smtp_stream_setup: maxtime=300 enable_deadline=0\n" +
		"smtp-source: vstream_tweak_tcp: TCP_MAXSEG 32741\n" +
		"smtp-source: fd=3: stream buffer size old=0 new=130964\n" +
		"/usr/sbin/smtp-source: <<< 220 smtp-sink ESMTP\n" +
		"/tmp/x/go-smtp-source: warning: connect: refused\n" +
		"go-smtp-source: fatal: HELO rejected: 500 no\n" +
		"go-smtp-source: summary: accepted=3 failed=0 sessions=3\n" +
		"not a diagnostic: smtp-source: stays\n" +
		"/usr/sbin/smtp-source: fatal: usage: /usr/sbin/smtp-source -cd\n"
	want := "PROG: <<< 220 smtp-sink ESMTP\n" +
		"PROG: warning: connect: refused\n" +
		"PROG: fatal: HELO rejected: 500 no\n" +
		"not a diagnostic: smtp-source: stays\n" +
		"PROG: fatal: usage: PROG -cd\n"
	got := NormalizeStderr(in)
	if got != want {
		t.Errorf("NormalizeStderr:\ngot:\n%s\nwant:\n%s", got, want)
	}
	diag := Diagnostics(got)
	if len(diag) != 3 || diag[1] != "PROG: fatal: HELO rejected: 500 no" {
		t.Errorf("Diagnostics = %q", diag)
	}
}
