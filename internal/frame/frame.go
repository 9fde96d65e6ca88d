// Package frame carries result documents through logs: go-smtp-source
// --out - writes its result as framed lines on stdout, which survive
// whatever an engine does to a process's output (kubectl logs --prefix
// and --timestamps, Slurm output files and srun --label, GNU parallel
// --tag, stderr interleaved line by line), and Collect finds them again.
//
// A document is gzipped, base64-encoded and cut into lines of at most
// ChunkChars characters of payload:
//
//	GO-SMTP-SOURCE-RESULT/1 <run-id> <k>/<N> <i>/<n> <payload>
//
// run-id is "-" when the run has none and k/N is "-" for an unsharded
// run; i counts the chunks from 1 to n. Each chunk is valid base64 on
// its own, and gzip's checksum covers the whole document, so a lost,
// truncated or altered chunk is detected.
package frame

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/runid"
)

// Marker starts every frame; Collect looks for it anywhere in a line.
const Marker = "GO-SMTP-SOURCE-RESULT/1"

// markerStem is Marker without its version, to recognise frames of
// other versions and refuse them by name.
const markerStem = "GO-SMTP-SOURCE-RESULT/"

// ChunkChars is the most payload characters on one line. A whole line
// stays below 4096 bytes, which a pipe writes atomically (PIPE_BUF), so
// other output cannot land inside a frame, and below any log line
// limit of the engines we know (16 KiB for the CRI).
const ChunkChars = 3000

// chunkBytes is the gzip bytes behind one chunk: 3 bytes make 4
// characters, so every chunk but the last has no padding.
const chunkBytes = ChunkChars / 4 * 3

// MaxRunID is the longest run id a frame carries.
const MaxRunID = runid.MaxLen

// Key names a document: the run and the shard it comes from.
type Key struct {
	RunID        string // "" when the run had no --run-id
	Index, Count int    // the shard; Count is 0 for an unsharded run
}

// String returns the key as frames write it: "run-id k/N".
func (k Key) String() string {
	return runField(k.RunID) + " " + shardField(k)
}

func runField(id string) string {
	if id == "" {
		return "-"
	}
	return id
}

func shardField(k Key) string {
	if k.Count == 0 {
		return "-"
	}
	return strconv.Itoa(k.Index) + "/" + strconv.Itoa(k.Count)
}

// CheckRunID refuses a run id that cannot travel in a frame; see
// runid.Check.
func CheckRunID(id string) error { return runid.Check(id) }

func (k Key) check() error {
	if k.RunID != "" {
		if err := CheckRunID(k.RunID); err != nil {
			return err
		}
	}
	if k.Count < 0 || (k.Count > 0 && (k.Index < 0 ||
		k.Index >= k.Count)) || (k.Count == 0 && k.Index != 0) {
		return fmt.Errorf("bad shard %d/%d", k.Index, k.Count)
	}
	return nil
}

// Write writes doc as frames for k, one Write call per line.
func Write(w io.Writer, k Key, doc []byte) error {
	if err := k.check(); err != nil {
		return fmt.Errorf("frame: %w", err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(doc) // writes to memory: cannot fail
	zw.Close()

	data := z.Bytes()
	n := (len(data) + chunkBytes - 1) / chunkBytes
	prefix := Marker + " " + k.String() + " "
	line := make([]byte, 0, len(prefix)+24+ChunkChars+1)
	for i := range n {
		part := data[i*chunkBytes : min((i+1)*chunkBytes, len(data))]
		line = append(line[:0], prefix...)
		line = strconv.AppendInt(line, int64(i+1), 10)
		line = append(line, '/')
		line = strconv.AppendInt(line, int64(n), 10)
		line = append(line, ' ')
		line = base64.StdEncoding.AppendEncode(line, part)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("frame: %w", err)
		}
	}
	return nil
}

// errNoFrame is parseLine's answer for a line without a frame.
var errNoFrame = errors.New("no frame")

// frameLine is one parsed frame.
type frameLine struct {
	key     Key
	keyed   bool // key was read; errors after it concern its document
	i, n    int
	payload []byte // decoded chunk
}

// parseLine finds a frame in line. A frame whose key cannot be read is
// an error of the whole input; a bad chunk of a known key comes back
// with the key set, so that the error is charged to its document.
func parseLine(line string) (frameLine, error) {
	at := strings.Index(line, markerStem)
	if at < 0 {
		return frameLine{}, errNoFrame
	}
	line = strings.TrimRight(line[at:], "\r\n \t")
	f := strings.Split(line, " ")
	if f[0] != Marker {
		return frameLine{}, fmt.Errorf("unsupported frame version %q "+
			"(want %s)", f[0], Marker)
	}
	if len(f) < 3 {
		return frameLine{}, errors.New("frame without run id and shard")
	}
	var fl frameLine
	var err error
	if fl.key, err = parseKey(f[1], f[2]); err != nil {
		return frameLine{}, err
	}
	fl.keyed = true
	if len(f) != 5 {
		return fl, fmt.Errorf("frame has %d fields, want 5", len(f))
	}
	fl.i, fl.n, err = parseIndex(f[3])
	if err != nil {
		return fl, err
	}
	if len(f[4]) > ChunkChars {
		return fl, fmt.Errorf("chunk %d/%d is longer than %d characters",
			fl.i, fl.n, ChunkChars)
	}
	fl.payload, err = base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(fl.payload) == 0 {
		return fl, fmt.Errorf("chunk %d/%d is not base64", fl.i, fl.n)
	}
	return fl, nil
}

func parseKey(run, shard string) (Key, error) {
	k := Key{RunID: run}
	if run == "-" {
		k.RunID = ""
	}
	if shard != "-" {
		a, b, ok := strings.Cut(shard, "/")
		ka, errA := number(a)
		kb, errB := number(b)
		if !ok || errA != nil || errB != nil {
			return Key{}, fmt.Errorf("frame has a bad shard %q", shard)
		}
		k.Index, k.Count = ka, kb
		if kb == 0 {
			return Key{}, fmt.Errorf("frame has a bad shard %q", shard)
		}
	}
	if err := k.check(); err != nil {
		return Key{}, fmt.Errorf("frame: %w", err)
	}
	return k, nil
}

// maxChunks bounds a document's chunks (a 300 MB gzip stream), so that
// a corrupt count cannot make Collect wait for millions.
const maxChunks = 100_000

func parseIndex(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, errA := number(a)
	n, errB := number(b)
	if !ok || errA != nil || errB != nil || i < 1 || i > n ||
		n > maxChunks {
		return 0, 0, fmt.Errorf("frame has a bad chunk number %q", s)
	}
	return i, n, nil
}

// number reads plain decimal digits.
func number(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}
