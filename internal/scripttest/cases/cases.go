// Package cases holds the hard cases as test fixtures: the scripted
// servers (*.smtp, run by package scripttest), the -F input files
// (files/*.eml) and the exact bytes each file must put between the 354
// reply and the final dot (files/expected/*.wire).
package cases

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

//go:embed *.smtp files
var data embed.FS

// Script returns the scripted server called name, with or without its
// ".smtp" suffix, for example "c01-multiline-split". It returns nil when
// there is no such script.
func Script(name string) []byte {
	if !strings.HasSuffix(name, ".smtp") {
		name += ".smtp"
	}
	return read(name)
}

// File returns a file under files/, for example "lf.eml" or
// "expected/lf.wire". It returns nil when there is no such file.
func File(name string) []byte {
	return read(path.Join("files", name))
}

// Names lists the scripts, without the ".smtp" suffix, in lexical order.
func Names() []string {
	matches, err := fs.Glob(data, "*.smtp")
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	for i, m := range matches {
		matches[i] = strings.TrimSuffix(m, ".smtp")
	}
	return matches
}

func read(name string) []byte {
	b, err := data.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}
