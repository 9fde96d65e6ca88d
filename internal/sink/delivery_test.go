package sink

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
)

// stampHeader is message seq's stamp of run "r1", sent at sent.
func stampHeader(seq int, sent time.Time) string {
	return fmt.Sprintf("X-Smtp-Source-Run: r1\r\nX-Smtp-Source-Seq: %d\r\n"+
		"X-Smtp-Source-Sent: %s\r\n", seq,
		sent.UTC().Format(time.RFC3339Nano))
}

// The sink finds the stamp in the header section of DATA and BDAT
// messages, across chunk and read boundaries, and counts only messages
// whose end of data it accepted; a stamp in the body does not count.
func TestDeliveryStamps(t *testing.T) {
	tr := delivery.New("")
	dot, err := ParseFault(".:100%:451")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Delivery: tr, Chunking: true})
	refusing := startServer(t, Config{Delivery: tr, Faults: []Fault{dot}})
	sent := time.Now().Add(-time.Second)

	c := dial(t, ts.addr)
	c.greet()

	// DATA, with a dot-stuffed line before the stamp.
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n..dot: y\r\n" + stampHeader(0, sent) +
		"\r\nbody\r\n.\r\n")
	c.expect("250 2.0.0 Ok")

	// BDAT, the stamp split over two chunks.
	msg := "Subject: y\r\n" + stampHeader(1, sent) + "\r\nbody\r\n"
	half := len(msg) / 2
	c.send(fmt.Sprintf("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nBDAT %d\r\n%s"+
		"BDAT %d LAST\r\n%s", half, msg[:half], len(msg)-half,
		msg[half:]))
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok",
		"250 2.0.0 Ok")

	// The stamp after the header section is not one.
	c.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	c.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: z\r\n\r\n" + stampHeader(2, sent) + ".\r\n")
	c.expect("250 2.0.0 Ok")

	// A refused end of data is no arrival.
	r := dial(t, refusing.addr)
	r.greet()
	r.send("MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
	r.expect("250 2.1.0 Ok", "250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>")
	r.send(stampHeader(3, sent) + "\r\n.\r\n")
	if got := r.line(); got[:3] != "451" {
		t.Fatalf("end of data reply %q, want 451", got)
	}

	d := tr.Delivery()
	if d.Arrived != 2 || d.Distinct != 2 || d.Unstamped != 1 {
		t.Errorf("arrived %d distinct %d unstamped %d, want 2 2 1",
			d.Arrived, d.Distinct, d.Unstamped)
	}
	if d.Latency.MinNS < int64(time.Second) {
		t.Errorf("latency min %v, want at least 1s",
			time.Duration(d.Latency.MinNS))
	}
	if d.Clients["127.0.0.1"] != 2 {
		t.Errorf("clients %v, want 127.0.0.1: 2", d.Clients)
	}
}
