package smtp

import "strconv"

// BDAT queues the chunk of the content head+body (not dot-stuffed) that
// starts at offset off: at most size bytes, or all the rest when size is
// not positive. The chunk that reaches the end goes as BDAT n LAST (RFC
// 3030 section 2), also for empty content. It returns the offset after
// the chunk and whether it was the last. The reply to a chunk is read as
// PhaseData, the reply to the last one as PhaseEndOfData.
func (p *Pipeline) BDAT(head, body []byte, off, size int) (int, bool) {
	total := len(head) + len(body)
	n := total - off
	if size > 0 && n > size {
		n = size
	}
	last := off+n == total

	start := len(p.buf)
	p.buf = strconv.AppendInt(append(p.buf, "BDAT "...), int64(n), 10)
	phase := PhaseData
	if last {
		p.buf = append(p.buf, " LAST"...)
		phase = PhaseEndOfData
		p.dot = true
	}
	p.command(phase, start)

	a, b := split(head, body, off, n)
	p.buf = append(p.buf, a...)
	p.content(b)
	return off + n, last
}

// split returns the bytes [off, off+n) of head+body as two slices.
func split(head, body []byte, off, n int) (a, b []byte) {
	end := off + n
	if off < len(head) {
		a = head[off:min(end, len(head))]
	}
	if end > len(head) {
		b = body[max(off-len(head), 0) : end-len(head)]
	}
	return a, b
}
