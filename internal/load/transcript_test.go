package load

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
	"github.com/go-smtp-source/go-smtp-source/internal/scripttest"
)

// TestTranscript checks every byte the engine writes in one session of
// two messages with -d -r 2 -S, against a scripted server: smtp-source's
// conversation, with our Message-Id.
func TestTranscript(t *testing.T) {
	srv := scripttest.StartCase(t, "accept")
	date := time.Date(2026, 12, 3, 9, 5, 7, 0, time.UTC)
	gen, err := message.New(message.Config{
		Hostname: "vm", Sender: "foo@vm", Recipient: "rcpt@example.com",
		RcptCount: 2, RcptSet: true, Subject: "hi", HasSubject: true,
		Date: date, PID: 0x1bd1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	cfg := Config{
		Dial: func(ctx context.Context) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", srv.Addr)
		},
		Gen: gen, Messages: 2, Sessions: 1, Recipients: 2,
		Hostname: "vm", KeepOpen: true,
	}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	srv.Check(t)

	msg := func(id string) string {
		return "From: <foo@vm>\r\n" +
			"To: <rcpt@example.com>\r\n" +
			"Date: Thu,  3 Dec 2026 09:05:07 +0000 (UTC)\r\n" +
			"Message-Id: <" + id + "@vm>\r\n" +
			"Subject: hi\r\n" +
			"\r\n" +
			"La de da de da 1.\r\n" +
			"La de da de da 2.\r\n" +
			"La de da de da 3.\r\n" +
			"La de da de da 4.\r\n" +
			".\r\n"
	}
	want := "HELO vm\r\n" +
		"MAIL FROM:<foo@vm>\r\n" +
		"RCPT TO:<2rcpt@example.com>\r\n" +
		"RCPT TO:<rcpt@example.com>\r\n" +
		"DATA\r\n" +
		msg("1bd1.0000.0000") +
		"MAIL FROM:<foo@vm>\r\n" +
		"RCPT TO:<2rcpt@example.com>\r\n" +
		"RCPT TO:<rcpt@example.com>\r\n" +
		"DATA\r\n" +
		msg("1bd1.0000.0001") +
		"QUIT\r\n"
	if diff := cmp.Diff(want, string(srv.Transcript(1))); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}
