package message

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadEML reads the message files of --eml. spec is a directory (its
// *.eml files, not recursing), a glob pattern (everything it matches but
// directories) or one file. The files come back in lexical order of
// their paths, so that message g of every run is the same file. Reading
// errors are worded as LoadFile's; finding none is an error too.
func LoadEML(spec string) (files [][]byte, paths []string, err error) {
	paths, err = findEML(spec)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range paths {
		b, err := LoadFile(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, b)
	}
	return files, paths, nil
}

// findEML lists the files spec names, sorted.
func findEML(spec string) ([]string, error) {
	if spec == "" {
		return nil, errors.New("empty message file path")
	}
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		return emlInDir(spec)
	}
	if !strings.ContainsAny(spec, "*?[") {
		return []string{spec}, nil // LoadFile words what is wrong
	}

	matches, err := filepath.Glob(spec)
	if err != nil {
		return nil, fmt.Errorf("bad pattern %s: %w", spec, err)
	}
	var files []string
	for _, m := range matches {
		if !isDir(m) {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no message files match %s", spec)
	}
	slices.Sort(files)
	return files, nil
}

// emlInDir lists the files named *.eml (any case) in dir.
func emlInDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &fileError{op: "open", path: dir, err: pe.Err}
		}
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !strings.EqualFold(filepath.Ext(e.Name()), ".eml") {
			continue
		}
		if p := filepath.Join(dir, e.Name()); !isDir(p) {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .eml files in %s", dir)
	}
	return files, nil // ReadDir sorts by name
}

// isDir reports whether path is a directory. A path that cannot be
// examined is not: reading it will say what is wrong.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
