package sink

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// spillLimit is how much of one -D transaction is kept in memory before
// it moves to an unlinked temporary file, so that a client sending an
// endless message costs disk, as with smtp-sink, but not memory.
const spillLimit = 1 << 20

// dumper writes smtp-sink's -d and -D dumps. The format, one file or one
// entry per transaction, with LF line endings:
//
//	<-S prefix>X-Client-Addr: 127.0.0.1
//	X-Client-Proto: ESMTP
//	X-Helo-Args: client.example        (only after HELO, EHLO or LHLO)
//	X-Mail-Args: <a@example.com>       (all after "MAIL FROM:")
//	X-Rcpt-Args: <b@example.com>       (one per accepted RCPT)
//	Received: from client.example ([127.0.0.1])
//		by smtp-sink (smtp-sink) with ESMTP id 3d2e3e33;
//		Thu,  3 Dec 2026 15:36:12 +0000 (UTC)
//	<content: CRs deleted, leading dots removed, final LF of ".\r\n">
type dumper struct {
	cfg DumpConfig
	mu  sync.Mutex // one append to a shared file at a time
}

// dumpFile is the dump of the transaction in progress.
type dumpFile struct {
	d     *dumper
	start time.Time // MAIL time, names the file and dates Received:
	id    uint32
	path  string   // -d: the file, removed if the transaction fails
	file  *os.File // -d
	spool spool    // -D
	w     *bufio.Writer
}

// open starts the dump of a transaction whose MAIL came at start.
func (d *dumper) open(start time.Time) (*dumpFile, error) {
	df := &dumpFile{d: d, start: start}
	if d.cfg.Shared != "" {
		df.id = rand.Uint32() >> 1
		df.spool.dir = filepath.Dir(strftime(start, d.cfg.Shared))
		df.w = bufio.NewWriterSize(&df.spool, 32<<10)
		return df, nil
	}
	if err := df.create(strftime(start, d.cfg.PerMessage)); err != nil {
		return nil, err
	}
	df.w = bufio.NewWriterSize(df.file, 32<<10)
	return df, nil
}

// create makes the -d file: the expanded template plus a random %08x,
// retried on a name clash, with missing directories made on the way.
func (df *dumpFile) create(base string) error {
	const flags = os.O_RDWR | os.O_CREATE | os.O_EXCL
	for tries := 1; ; tries++ {
		if tries > 100 {
			return errors.New("mail_file_open: something is looping")
		}
		df.id = rand.Uint32() >> 1
		df.path = fmt.Sprintf("%s%08x", base, df.id)
		f, err := os.OpenFile(df.path, flags, 0o644)
		switch {
		case err == nil:
			df.file = f
			return nil
		case errors.Is(err, fs.ErrExist):
			continue
		case errors.Is(err, fs.ErrNotExist):
			if err := makeParent(df.path); err != nil {
				return err
			}
		default:
			return &sysError{"open " + df.path, err}
		}
	}
}

// makeParent creates the directories above path, mode 0755.
func makeParent(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &sysError{"mkdir " + dir, err}
	}
	return nil
}

// header writes the records known at MAIL time.
func (df *dumpFile) header(addr, proto, helo, mailArgs string) {
	w := df.w
	w.WriteString(df.d.cfg.Prefix)
	w.WriteString("X-Client-Addr: " + addr + "\n")
	w.WriteString("X-Client-Proto: " + proto + "\n")
	if helo != "" {
		w.WriteString("X-Helo-Args: " + helo + "\n")
	}
	w.WriteString("X-Mail-Args: " + mailArgs + "\n")
}

// rcpt records one accepted recipient.
func (df *dumpFile) rcpt(args string) {
	df.w.WriteString("X-Rcpt-Args: " + args + "\n")
}

// received writes the Received: header that ends the records, at the
// start of the message content. addr is "[1.2.3.4]" or "[ipv6:...]".
func (df *dumpFile) received(hostname, proto, helo, addr string) {
	from := helo
	if from == "" {
		from = addr
	}
	fmt.Fprintf(df.w, "Received: from %s (%s)\n", from, addr)
	fmt.Fprintf(df.w, "\tby %s (smtp-sink) with %s id %08x;\n",
		hostname, proto, df.id)
	fmt.Fprintf(df.w, "\t%s\n", mailDate(df.start))
}

// finish completes the transaction: a -d file is closed and kept, a -D
// entry is appended to the shared file.
func (df *dumpFile) finish() error {
	if err := df.w.Flush(); err != nil {
		df.discard()
		return &sysError{"append file " + df.name(), err}
	}
	if df.file != nil {
		err := df.file.Close()
		df.file = nil
		if err != nil {
			return &sysError{"append file " + df.path, err}
		}
		return nil
	}
	defer df.spool.close()
	return df.d.appendShared(strftime(df.start, df.d.cfg.Shared), &df.spool)
}

// discard drops a transaction that did not end: RSET, HELO, EHLO, a
// new session state, or a lost connection.
func (df *dumpFile) discard() {
	if df.file != nil {
		df.file.Close()
		os.Remove(df.path)
		df.file = nil
	}
	df.spool.close()
}

func (df *dumpFile) name() string {
	if df.path != "" {
		return df.path
	}
	return strftime(df.start, df.d.cfg.Shared)
}

// appendShared appends one transaction to the -D file at path.
func (d *dumper) appendShared(path string, sp *spool) error {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND

	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if err := makeParent(path); err != nil {
			return err
		}
		f, err = os.OpenFile(path, flags, 0o644)
	}
	if err != nil {
		return &sysError{"open " + path, err}
	}
	if _, err := sp.writeTo(f); err != nil {
		f.Close()
		return &sysError{"append file " + path, err}
	}
	if err := f.Close(); err != nil {
		return &sysError{"append file " + path, err}
	}
	return nil
}

// sysError words a failed system call as Postfix's "%m" does:
// "open /d/m.1234abcd: Permission denied".
type sysError struct {
	what string
	err  error
}

func (e *sysError) Error() string {
	return e.what + ": " + target.ErrnoText(e.err)
}

func (e *sysError) Unwrap() error { return e.err }

// spool holds one -D transaction: in memory up to spillLimit, then in an
// unlinked temporary file beside the shared dump.
type spool struct {
	dir string
	buf []byte
	f   *os.File
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && len(s.buf)+len(p) <= spillLimit {
		s.buf = append(s.buf, p...)
		return len(p), nil
	}
	if s.f == nil {
		if err := s.spill(); err != nil {
			return 0, err
		}
	}
	return s.f.Write(p)
}

func (s *spool) spill() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return &sysError{"mkdir " + s.dir, err}
	}
	f, err := os.CreateTemp(s.dir, ".go-smtp-sink-")
	if err != nil {
		return err
	}
	os.Remove(f.Name())
	if _, err := f.Write(s.buf); err != nil {
		f.Close()
		return err
	}
	s.f, s.buf = f, nil
	return nil
}

func (s *spool) writeTo(w io.Writer) (int64, error) {
	if s.f == nil {
		n, err := w.Write(s.buf)
		return int64(n), err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	return io.Copy(w, s.f)
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.buf = nil
}

// printable replaces the bytes smtp-sink would not print with '?', as
// Postfix's printable(3) does: everything but ASCII 0x20-0x7e, and with
// utf8 also keeping valid UTF-8 beyond ASCII.
func printable(b []byte, utf8ok bool) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
			i++
			continue
		}
		if utf8ok && c >= 0x80 {
			r, n := utf8.DecodeRune(b[i:])
			if r != utf8.RuneError || n > 1 {
				out = append(out, b[i:i+n]...)
				i += n
				continue
			}
		}
		out = append(out, '?')
		i++
	}
	return string(out)
}
