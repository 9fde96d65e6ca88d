package frame

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCollect feeds arbitrary logs to Collect: it must not panic, and
// whatever documents it returns must survive being framed again.
func FuzzCollect(f *testing.F) {
	var b bytes.Buffer
	Write(&b, Key{RunID: "r1", Index: 1, Count: 3}, []byte(`{"x":1}`))
	valid := b.String()
	f.Add(valid)
	f.Add("[pod/p-1-abc/go-smtp-source] " + valid)
	f.Add(valid[:len(valid)/2])
	f.Add(strings.Replace(valid, "1/1", "1/2", 1))
	f.Add(Marker + " - - 1/1 H4sIAAAAAAAA/wMAAAAAAAAAAAA=\n")
	f.Add(Marker + " r 0/1 1/1 ====\n")
	f.Add("x" + Marker + "  r1 0/1 1/1 AAAA\r\n")
	f.Fuzz(func(t *testing.T, logs string) {
		docs, err := Collect(strings.NewReader(logs))
		if err != nil {
			if _, ok := err.(Problems); !ok && docs != nil {
				t.Fatalf("documents with a refusal: %v", err)
			}
		}
		for k, d := range docs {
			var w bytes.Buffer
			if err := Write(&w, k, d); err != nil {
				t.Fatalf("%v: collected but cannot be framed: %v", k, err)
			}
			again, err := Collect(&w)
			if err != nil || !bytes.Equal(again[k], d) {
				t.Fatalf("%v: round trip: %v", k, err)
			}
		}
	})
}

// FuzzRoundTrip frames any document under any prefix and collects it.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"format":"go-smtp-source-result/1"}`), "r1", 2, 8,
		"[pod/x/y] ")
	f.Add([]byte{}, "", 0, 0, "")
	f.Add(bytes.Repeat([]byte{0xff, 0, 7}, 3000), "slurm-9", 0, 1, "0: ")
	f.Fuzz(func(t *testing.T, doc []byte, run string, k, n int,
		prefix string) {

		key := Key{RunID: run, Index: k, Count: n}
		var w bytes.Buffer
		if Write(&w, key, doc) != nil {
			return // a key Write refuses
		}
		if strings.ContainsAny(prefix, "\n\r") {
			return
		}
		var logs strings.Builder
		for line := range strings.Lines(w.String()) {
			logs.WriteString(prefix + line)
		}
		got, err := Collect(strings.NewReader(logs.String()))
		if err != nil || len(got) != 1 || !bytes.Equal(got[key], doc) {
			t.Fatalf("prefix %q key %v: %v", prefix, key, err)
		}
	})
}
