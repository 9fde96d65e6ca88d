package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/go-smtp-source/go-smtp-source/internal/cli"
	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/target"
)

// outFile is the --out file, opened at startup while the program still
// has the privileges and the root directory it was started with, so
// that a file that cannot be written ends the program before it serves
// instead of losing the run's result at exit. The result goes into the
// descriptor at exit, whatever -u and -R did in between.
type outFile struct {
	f       *os.File
	path    string
	created bool // the file did not exist before openOut
}

// openOut opens the --out file at path for writing, creating it if
// missing. An existing file is left as it is until ready says that the
// program has started, so that a failed start does not destroy the
// result of an earlier run. An empty path gives a nil *outFile.
func openOut(path string) (*outFile, error) {
	if path == "" {
		return nil, nil
	}
	f, created, err := cli.OpenOutput(path)
	if err != nil {
		return nil, err
	}
	return &outFile{f: f, path: path, created: created}, nil
}

// ready empties a file that existed before, now that the program has
// started: from here on the file holds this run's result or nothing.
// Files that are not regular files, such as /dev/stdout, are left as
// they are.
func (o *outFile) ready() error {
	if o == nil || o.created {
		return nil
	}
	fi, err := o.f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if err := o.f.Truncate(0); err != nil {
		return fmt.Errorf("--out: truncate %s: %s", o.path,
			target.ErrnoText(err))
	}
	return nil
}

// abandon closes the file after a failed start, and removes it if
// openOut created it: the file itself, not a symbolic link to it. The
// file is removed only if path still leads to it: after -R it may name
// another file in the new root, and after -u the removal may be
// refused, in which case the empty file stays.
func (o *outFile) abandon() {
	if o == nil {
		return
	}
	fi, err := o.f.Stat()
	o.f.Close()
	if !o.created || err != nil {
		return
	}
	real, err := filepath.EvalSymlinks(o.path)
	if err != nil {
		return
	}
	if now, err := os.Lstat(real); err == nil && os.SameFile(fi, now) {
		os.Remove(real)
	}
}

// write writes res into the file and closes it. Errors name the file.
func (o *outFile) write(res *metrics.Result) error {
	err := res.Encode(o.f)
	if cerr := o.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %s", target.ErrnoText(cerr))
	}
	if err != nil {
		return fmt.Errorf("result: %s: %w", o.path, err)
	}
	return nil
}

// finishDelivery logs what --delivery saw and writes it to out, the
// --out file or nil.
func finishDelivery(o *options, out *outFile, log *slog.Logger) error {
	tr := o.cfg.Delivery
	if tr == nil {
		return nil
	}
	res := tr.Result()
	if !o.noSum {
		log.Info("delivery: " + deliverySummary(tr))
	}
	if out == nil {
		return nil
	}
	return out.write(res)
}

// deliverySummary is the delivery line of the exit summary.
func deliverySummary(tr *delivery.Tracker) string {
	d := tr.Delivery()
	return fmt.Sprintf("run=%s arrived=%d distinct=%d duplicated=%d"+
		" out-of-order=%d foreign=%d unstamped=%d p50=%v p99=%v max=%v",
		tr.RunID(), d.Arrived, d.Distinct, d.Duplicated, d.OutOfOrder,
		d.Foreign, d.Unstamped, d.Latency.ValueAt(50),
		d.Latency.ValueAt(99), d.Latency.ValueAt(100))
}
