package frame

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// MaxDocument bounds a reassembled document, against a gzip bomb.
const MaxDocument = 256 << 20

// Problems is Collect's error when some documents could not be
// reassembled: it says why for each, by key. The other documents were
// returned.
type Problems map[Key]error

// Error lists the problems in key order, one per document.
func (p Problems) Error() string {
	keys := slices.SortedFunc(maps.Keys(p), compareKeys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("result %s: %v", k, p[k]))
	}
	return strings.Join(parts, "; ")
}

func compareKeys(a, b Key) int {
	switch {
	case a.RunID != b.RunID:
		return strings.Compare(a.RunID, b.RunID)
	case a.Count != b.Count:
		return a.Count - b.Count
	}
	return a.Index - b.Index
}

// doc gathers one document's chunks.
type doc struct {
	n      int
	chunks map[int][]byte
	err    error // the first problem seen
}

// Collect reads logs and returns every document framed in them, by key.
// Frames may appear anywhere in a line, after any prefix, with the
// frames of several documents interleaved and the chunks of one in any
// order; a chunk repeated with the same content counts once (the same
// log read twice).
//
// A document with a missing, altered or conflicting chunk is left out
// and reported in a Problems error, with the documents that were whole.
// A frame whose run or shard cannot be read, or of another version,
// fails the whole input, as does a read error: then no document is
// returned.
func Collect(r io.Reader) (map[Key][]byte, error) {
	docs := map[Key]*doc{}
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read logs: %w", err)
		}
		for _, seg := range segments(line) {
			if err := file(docs, seg, lineNo); err != nil {
				return nil, err
			}
		}
	}
	return assemble(docs)
}

// maxLine is the most of one log line Collect looks at; the rest of a
// longer line (a runaway log, never a frame) is skipped.
const maxLine = 1 << 20

// readLine returns the next line without its end, at most maxLine
// bytes of it, or io.EOF after the last line.
func readLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line) < maxLine {
			line = append(line, part[:min(len(part),
				maxLine-len(line))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return string(line), nil
		case err != nil:
			return "", err
		}
		return strings.TrimSuffix(string(line), "\n"), nil
	}
}

// segments cuts a line before each frame marker: a frame cut short
// (its process killed mid-line) may run into the next one.
func segments(line string) []string {
	var out []string
	for {
		at := strings.Index(line, markerStem)
		if at < 0 {
			return out
		}
		line = line[at:]
		next := strings.Index(line[1:], markerStem)
		if next < 0 {
			return append(out, line)
		}
		out = append(out, line[:next+1])
		line = line[next+1:]
	}
}

// file parses one frame and files it with its document. A frame whose
// key cannot be read fails the whole input.
func file(docs map[Key]*doc, seg string, lineNo int) error {
	fl, err := parseLine(seg)
	if err != nil && !fl.keyed {
		return fmt.Errorf("line %d: %w", lineNo, err)
	}
	d := docs[fl.key]
	if d == nil {
		d = &doc{chunks: map[int][]byte{}}
		docs[fl.key] = d
	}
	if err != nil {
		d.fail(fmt.Errorf("line %d: %w", lineNo, err))
		return nil
	}
	d.add(fl, lineNo)
	return nil
}

func (d *doc) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// add files one chunk.
func (d *doc) add(fl frameLine, lineNo int) {
	switch {
	case d.n == 0:
		d.n = fl.n
	case d.n != fl.n:
		d.fail(fmt.Errorf("line %d: chunk %d/%d, but other chunks say "+
			"%d chunks (did the shard run twice?)", lineNo, fl.i,
			fl.n, d.n))
		return
	}
	if old, ok := d.chunks[fl.i]; ok {
		if !bytes.Equal(old, fl.payload) {
			d.fail(fmt.Errorf("line %d: chunk %d/%d differs from an "+
				"earlier copy (did the shard run twice?)", lineNo,
				fl.i, fl.n))
		}
		return
	}
	d.chunks[fl.i] = fl.payload
}

// assemble decodes the complete documents.
func assemble(docs map[Key]*doc) (map[Key][]byte, error) {
	out := map[Key][]byte{}
	probs := Problems{}
	for k, d := range docs {
		if d.err == nil {
			var data []byte
			data, d.err = d.decode()
			out[k] = data
		}
		if d.err != nil {
			delete(out, k)
			probs[k] = d.err
		}
	}
	if len(probs) > 0 {
		return out, probs
	}
	return out, nil
}

// decode joins the chunks and gunzips them.
func (d *doc) decode() ([]byte, error) {
	var missing []int
	var z []byte
	for i := 1; i <= d.n; i++ {
		c, ok := d.chunks[i]
		if !ok {
			missing = append(missing, i)
			continue
		}
		z = append(z, c...)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("incomplete: %d of %d chunks missing "+
			"(%s)", len(missing), d.n, list(missing))
	}
	br := bytes.NewReader(z)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("corrupt: %w", err)
	}
	zr.Multistream(false)
	data, err := io.ReadAll(io.LimitReader(zr, MaxDocument+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("corrupt: %w", err)
	case len(data) > MaxDocument:
		return nil, errors.New("document larger than 256 MiB")
	}
	if br.Len() > 0 {
		// gzip reads a bytes.Reader without buffering ahead.
		return nil, errors.New("corrupt: data after the document")
	}
	return data, nil
}

// list writes chunk numbers, eliding long lists.
func list(ns []int) string {
	var parts []string
	for i, n := range ns {
		if i == 5 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprint(n))
	}
	return strings.Join(parts, ", ")
}
