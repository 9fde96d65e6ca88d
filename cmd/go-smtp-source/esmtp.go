package main

import (
	"strconv"
	"strings"

	"github.com/pborman/getopt/v2"

	"github.com/go-smtp-source/go-smtp-source/internal/message"
)

// extOptions are the options of the ESMTP extensions the client uses
// and of the message sources beyond -F: --pipelining, --chunking,
// --chunk-size, --eml, --unique-headers and --run-id, the name of the
// run (distributed runs name theirs with it too).
type extOptions struct {
	pipelining, chunking bool
	chunkSize            int // bytes per BDAT chunk; 0: one chunk
	eml                  string
	uniqueHeaders        bool
	runID                string
}

// extFlags are the getopt values of extOptions, before checking.
type extFlags struct {
	pipelining, chunking, unique *bool
	chunkSize, eml, runID        *string
}

// maxChunkSize bounds --chunk-size: a chunk is held by the server, and
// go-smtp-sink takes 64 MiB at most by default.
const maxChunkSize = 1 << 30

// addExtFlags declares the extension and message-source options on set.
func addExtFlags(set *getopt.Set) *extFlags {
	str := func(long string) *string { return set.StringLong(long, 0, "") }
	flag := func(long string) *bool { return set.BoolLong(long, 0) }
	return &extFlags{
		pipelining: flag("pipelining"), chunking: flag("chunking"),
		chunkSize: str("chunk-size"), eml: str("eml"),
		unique: flag("unique-headers"), runID: str("run-id"),
	}
}

// extensions converts and checks the extension and message-source
// options.
func (o *options) extensions(set *getopt.Set, f *extFlags) error {
	e := &o.ext
	e.pipelining, e.chunking = *f.pipelining, *f.chunking
	e.eml, e.uniqueHeaders, e.runID = *f.eml, *f.unique, *f.runID

	if set.IsSet("chunk-size") {
		if !e.chunking {
			return usagef("--chunk-size needs --chunking")
		}
		n, err := parseByteSize(*f.chunkSize)
		if err != nil || n > maxChunkSize {
			return usagef("bad --chunk-size: %q (want a positive "+
				"byte count up to 1g, such as 65536 or 64k)",
				*f.chunkSize)
		}
		e.chunkSize = int(n)
	}

	if set.IsSet("eml") {
		switch {
		case e.eml == "":
			return usagef("bad --eml: empty path")
		case set.IsSet('F'):
			return usagef("do not use --eml with -F")
		case set.IsSet('l'):
			return usagef("-l option cannot be used with --eml")
		}
	}
	return nil
}

// parseByteSize reads a positive byte count with an optional binary
// suffix: k (KiB), m (MiB) or g (GiB), in either case.
func parseByteSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult = 1 << 10
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult = 1 << 20
	case strings.HasSuffix(strings.ToLower(s), "g"):
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, strconv.ErrSyntax
	}
	return n * mult, nil
}

// messageSource adds the --eml files and the --unique-headers stamp to
// the message configuration, with a random run id unless one was given.
// The files are read once, here.
func (e *extOptions) messageSource(cfg *message.Config) error {
	if e.eml != "" {
		files, _, err := message.LoadEML(e.eml)
		if err != nil {
			return err
		}
		cfg.EML = files
	}
	if e.uniqueHeaders {
		if e.runID == "" {
			e.runID = message.NewRunID()
		}
		cfg.Stamp, cfg.RunID = true, e.runID
	}
	return nil
}
