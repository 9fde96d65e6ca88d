package report

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// Text writes the compact text report of r: a header block (warnings
// first, then target, times, messages, success ratio and rate,
// recipients, sessions, bytes, and TLS handshakes and late and dropped
// sends when any), a table of the phases that were seen (count, min,
// mean, p50, p90, p99, p99.9, max), then replies by "PHASE CODE",
// enhanced status codes and transport errors by "PHASE KIND", each
// sorted. It is also go-smtp-source's end-of-run summary, so it stays
// near 20 lines for a typical run. r must come from metrics.Decode,
// metrics.Merge or Recorder.Result.
func Text(w io.Writer, r *metrics.Result) error {
	return writeText(w, Summarize(r))
}

// labelWidth is the width of the labels at the left of the report.
const labelWidth = 11

// lineWidth is the width the counts sections wrap at.
const lineWidth = 80

func writeText(w io.Writer, s *Summary) error {
	var b bytes.Buffer
	textHeader(&b, s)
	textPhases(&b, s)
	if len(s.Replies)+len(s.Enhanced)+len(s.Errors) > 0 {
		b.WriteByte('\n')
	}
	textCounts(&b, "replies", s.Replies)
	textCounts(&b, "enhanced", s.Enhanced)
	textCounts(&b, "errors", s.Errors)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// line writes one labelled line of the header block.
func line(b *bytes.Buffer, label, format string, args ...any) {
	fmt.Fprintf(b, "%-*s %s\n", labelWidth, label, fmt.Sprintf(format,
		args...))
}

// kv is a labelled value of the header block.
type kv struct{ Label, Value string }

func textHeader(b *bytes.Buffer, s *Summary) {
	for _, w := range s.Warnings {
		line(b, "WARNING", "%s", w)
	}
	for _, r := range headerRows(s) {
		line(b, r.Label, "%s", r.Value)
	}
}

// headerRows returns the header block, without the warnings.
func headerRows(s *Summary) []kv {
	var rows []kv
	add := func(label, format string, args ...any) {
		rows = append(rows, kv{label, fmt.Sprintf(format, args...)})
	}
	if s.Target != "" {
		add("target", "%s", s.Target)
	}
	add("start", "%s, elapsed %s", clock(s.StartNS),
		duration(s.ElapsedNS))
	rows = append(rows, distributedRows(s)...)

	m := s.Messages
	add("messages", "%d attempted: %d accepted, %d tempfail, "+
		"%d permfail, %d error, %d unknown", m.Attempted, m.Accepted,
		m.TempFail, m.PermFail, m.Error, m.Unknown)
	success := "-"
	if m.Attempted > 0 {
		success = percent(s.SuccessRatio)
	}
	add("success", "%s, %s", success, rate(s.RatePerS))
	if rc := s.Recipients; rc.Accepted+rc.Rejected > 0 {
		add("recipients", "%d accepted, %d rejected", rc.Accepted,
			rc.Rejected)
	}
	add("sessions", "%d opened, %d done", s.Sessions.Opened,
		s.Sessions.Done)
	add("bytes", "%s out, %s in", size(s.Bytes.Out), size(s.Bytes.In))
	rows = append(rows, tlsRows(s.TLS)...)
	if s.Late+s.Dropped > 0 {
		add("schedule", "%d late, %d dropped", s.Late, s.Dropped)
	}
	return append(rows, deliveryRows(s)...)
}

// distributedRows describe the shards and runs of a distributed run.
func distributedRows(s *Summary) []kv {
	var rows []kv
	switch sh := s.Shard; {
	case sh == nil:
	case sh.Merged != nil:
		rows = append(rows, kv{"shards", shardList(sh)})
	case sh.Key != "":
		rows = append(rows, kv{"shard", sh.String() + ", key " + sh.Key})
	default:
		rows = append(rows, kv{"shard", sh.String()})
	}
	if len(s.Sources) > 1 {
		rows = append(rows, kv{"runs", fmt.Sprintf("%d, start skew %s",
			len(s.Sources), duration(s.StartSkewNS))})
	}
	return rows
}

// shardList writes the shards of a merged result: "0 1 3 of 4".
func shardList(sh *metrics.ShardInfo) string {
	ks := make([]string, len(sh.Merged))
	for i, k := range sh.Merged {
		ks[i] = fmt.Sprint(k)
	}
	out := fmt.Sprintf("%s of %d", strings.Join(ks, " "), sh.Count)
	if sh.Partial() {
		out += " (PARTIAL)"
	}
	return out
}

// tablePhases are the phases in the order the table shows them, with
// their labels.
var tablePhases = []struct {
	p     metrics.Phase
	label string
}{
	{metrics.Connect, "connect"},
	{metrics.Banner, "banner"},
	{metrics.Helo, "helo"},
	{metrics.StartTLS, "starttls"},
	{metrics.Auth, "auth"},
	{metrics.Mail, "mail"},
	{metrics.Rcpt, "rcpt"},
	{metrics.Data, "data"},
	{metrics.EOD, "eod"},
	{metrics.Rset, "rset"},
	{metrics.Quit, "quit"},
	{metrics.Transaction, "transaction"},
	{metrics.TransactionFromIntended, "  intended"},
	{metrics.Session, "session"},
}

// phaseHeader heads the phase table.
var phaseHeader = []string{"phase", "count", "min", "mean", "p50", "p90",
	"p99", "p99.9", "max"}

// phaseRows returns a row of the phase table for each phase seen.
func phaseRows(s *Summary) [][]string {
	var rows [][]string
	for _, tp := range tablePhases {
		st := s.Phases[tp.p.String()]
		if st.Count == 0 {
			continue
		}
		rows = append(rows, []string{tp.label,
			fmt.Sprint(st.Count), duration(st.MinNS),
			duration(st.MeanNS), duration(st.P50NS),
			duration(st.P90NS), duration(st.P99NS),
			duration(st.P999NS), duration(st.MaxNS)})
	}
	return rows
}

// textPhases writes the latency table, right-aligned, with the phase
// names padded by hand so that they stay left-aligned.
func textPhases(b *bytes.Buffer, s *Summary) {
	rows := phaseRows(s)
	if len(rows) == 0 {
		return
	}
	rows = slices.Insert(rows, 0, phaseHeader)

	b.WriteByte('\n')
	tw := tabwriter.NewWriter(b, 0, 0, 0, ' ', tabwriter.AlignRight)
	for _, row := range rows {
		fmt.Fprintf(tw, "%-*s\t", labelWidth, row[0])
		for _, cell := range row[1:] {
			fmt.Fprintf(tw, "  %s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// textCounts writes a section of counts, sorted by key, as many to a
// line as fit in lineWidth, in aligned columns.
func textCounts(b *bytes.Buffer, label string, counts map[string]int64) {
	if len(counts) == 0 {
		return
	}
	keys := slices.Sorted(maps.Keys(counts))
	kw, cw := 0, 0
	for _, k := range keys {
		kw = max(kw, len([]rune(k)))
		cw = max(cw, len(fmt.Sprint(counts[k])))
	}
	const gap = 3
	perLine := max(1, (lineWidth-labelWidth-1+gap)/(kw+1+cw+gap))

	for i := 0; i < len(keys); i += perLine {
		cells := make([]string, 0, perLine)
		for _, k := range keys[i:min(i+perLine, len(keys))] {
			cells = append(cells, fmt.Sprintf("%-*s %*d", kw, k, cw,
				counts[k]))
		}
		line(b, label, "%s", strings.Join(cells, strings.Repeat(" ", gap)))
		label = ""
	}
}
