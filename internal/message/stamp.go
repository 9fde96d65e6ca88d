package message

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/runid"
)

// The stamp headers of --unique-headers. They make every message unique
// and traceable to its run and number, and carry the time it was sent,
// so that a receiver can measure delivery latency. Their names and
// syntax are an interface: keep them stable.
//
//	X-Smtp-Source-Run: 3f9c2a7d51e04b68
//	X-Smtp-Source-Seq: 41
//	X-Smtp-Source-Sent: 2026-12-03T15:35:50.123456789Z
const (
	StampRunHeader  = "X-Smtp-Source-Run"
	StampSeqHeader  = "X-Smtp-Source-Seq"
	StampSentHeader = "X-Smtp-Source-Sent"
)

// NewRunID returns a random run id of 16 hexadecimal digits.
func NewRunID() string { return runid.New() }

// stamper appends the stamp headers of one run.
type stamper struct {
	head []byte // the Run header and the name of the Seq header
	now  func() time.Time
}

// sentField sits between the sequence number and the send time.
const sentField = "\r\n" + StampSentHeader + ": "

func newStamper(runID string, now func() time.Time) *stamper {
	if now == nil {
		now = time.Now
	}
	head := StampRunHeader + ": " + runID + "\r\n" + StampSeqHeader + ": "
	return &stamper{head: []byte(head), now: now}
}

// appendTo appends message seq's stamp, sent now. It does not allocate
// once dst is large enough.
func (s *stamper) appendTo(dst []byte, seq int64) []byte {
	dst = append(dst, s.head...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, sentField...)
	dst = s.now().UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, "\r\n"...)
}

// maxLen is the longest stamp: the longest number and time.
func (s *stamper) maxLen() int {
	return len(s.head) + 20 + len(sentField) +
		len("2006-01-02T15:04:05.999999999Z") + 2
}

// ParseStamp finds the stamp headers in header, a message's header
// section (or the whole message: reading stops at the first empty line),
// and returns the run id, the sequence number and the send time. ok is
// false unless all three are there and well-formed. Field names match
// in any case; the first of each counts.
func ParseStamp(header []byte) (runID string, seq int64, sent time.Time,
	ok bool) {

	var haveRun, haveSeq, haveSent bool
	for len(header) > 0 {
		var line []byte
		line, header, _ = bytes.Cut(header, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // the end of the header section
		}
		name, value, found := strings.Cut(string(line), ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, StampRunHeader) && !haveRun:
			runID, haveRun = value, runid.Check(value) == nil
		case strings.EqualFold(name, StampSeqHeader) && !haveSeq:
			var err error
			seq, err = strconv.ParseInt(value, 10, 64)
			haveSeq = err == nil && seq >= 0
		case strings.EqualFold(name, StampSentHeader) && !haveSent:
			var err error
			sent, err = time.Parse(time.RFC3339Nano, value)
			haveSent = err == nil
		}
	}
	if !haveRun || !haveSeq || !haveSent {
		return "", 0, time.Time{}, false
	}
	return runID, seq, sent, true
}
