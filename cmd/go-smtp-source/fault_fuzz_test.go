package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseArgs feeds parseArgs arbitrary argument vectors, the fuzz
// bytes split on NUL as execve(2) would pass them. It must never panic,
// and an error must be one line, as smtp-source's diagnostics are.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"-s\x0010\x00-m\x00100\x00127.0.0.1:25",
		"-s10\x00-cd\x00--\x00host",
		"-A\x00-C\x003\x00-l\x00100000\x00-f\x00a@b\x00-t\x00c@d\x00h",
		"-S\x00subject\x00-M\x00example.com\x00-r\x005\x00unix:/x",
		"--out\x00-\x00--reply-timeout\x001s\x00sink:",
		"--starttls=opportunistic\x00--fault\x00x\x00h",
		"-s\x00-1\x00h", "-m\x00\x00h", "-\x00--\x00--=", "",
		"--start-at\x00+5s\x00--max-start-delay\x0010s\x00h",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var args []string
		if len(data) > 0 {
			for _, a := range bytes.Split(data, []byte{0}) {
				args = append(args, string(a))
			}
		}
		_, err := parseArgs(prog, args)
		if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("parseArgs(%q): error of several lines: %q",
				args, err)
		}
	})
}
