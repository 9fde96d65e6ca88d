package frame

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomDoc returns n bytes that gzip cannot shrink much, so that the
// frames run to several chunks.
func randomDoc(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

func frames(t *testing.T, k Key, doc []byte) []string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, k, doc); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range strings.Lines(b.String()) {
		lines = append(lines, l)
	}
	return lines
}

func collect(t *testing.T, logs string) map[Key][]byte {
	t.Helper()
	docs, err := Collect(strings.NewReader(logs))
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return docs
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		k    Key
		doc  []byte
		want int // lines
	}{
		{Key{RunID: "r1", Index: 2, Count: 8}, []byte(`{"a":1}`), 1},
		{Key{}, []byte(`{}`), 1},
		{Key{RunID: "slurm-42"}, randomDoc(1, 20_000), 9},
		{Key{Index: 0, Count: 1}, nil, 1},
	} {
		lines := frames(t, c.k, c.doc)
		if len(lines) != c.want {
			t.Errorf("%v: %d lines, want %d", c.k, len(lines), c.want)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, Marker+" "+c.k.String()+" ") {
				t.Errorf("line %.60q... does not start with the key", l)
			}
		}
		got := collect(t, strings.Join(lines, ""))
		if len(got) != 1 || !bytes.Equal(got[c.k], c.doc) {
			t.Errorf("%v: round trip gave %d docs", c.k, len(got))
		}
	}
}

// TestLinesFitAPipe checks that a frame line with the longest run id
// and shard stays below PIPE_BUF, so that it is written atomically.
func TestLinesFitAPipe(t *testing.T) {
	k := Key{RunID: strings.Repeat("r", MaxRunID), Index: 65534,
		Count: 65535}
	for _, l := range frames(t, k, randomDoc(2, 50_000)) {
		if len(l) >= 4096 {
			t.Fatalf("a line of %d bytes", len(l))
		}
	}
}

// TestCollectFromEngineLogs mixes the frames of four shards with the
// prefixes engines add, stderr lines, shuffled order and a repeated
// log, as merge --from-logs meets them.
func TestCollectFromEngineLogs(t *testing.T) {
	prefixes := []string{
		"[pod/go-smtp-source-r1-%d-x7k2q/go-smtp-source] ", // kubectl
		"2026-12-03T16:02:31.123456789Z ",                  // --timestamps
		"%d: ",                                             // srun --label
		"w%d\t",                                            // parallel --tag
	}
	want := map[Key][]byte{}
	var lines []string
	for k := range 4 {
		key := Key{RunID: "r1", Index: k, Count: 4}
		want[key] = randomDoc(uint64(k), 3000+k*4000)
		p := prefixes[k]
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(p, k)
		}
		for _, l := range frames(t, key, want[key]) {
			if k == 3 {
				l = strings.TrimSuffix(l, "\n") + "\r\n"
			}
			lines = append(lines, p+l)
			lines = append(lines, p+"go-smtp-source: warning: "+
				"something\n")
		}
	}
	rng := rand.New(rand.NewPCG(9, 9))
	rng.Shuffle(len(lines), func(i, j int) {
		lines[i], lines[j] = lines[j], lines[i]
	})
	logs := strings.Join(lines, "")
	got := collect(t, logs+logs) // the same logs collected twice
	if len(got) != len(want) {
		t.Fatalf("got %d documents, want %d", len(got), len(want))
	}
	for k, d := range want {
		if !bytes.Equal(got[k], d) {
			t.Errorf("%v: document differs", k)
		}
	}
}

func TestCollectProblems(t *testing.T) {
	good := Key{RunID: "r1", Index: 0, Count: 2}
	bad := Key{RunID: "r1", Index: 1, Count: 2}
	goodLines := frames(t, good, randomDoc(3, 5000))
	badLines := frames(t, bad, randomDoc(4, 9000))
	other := frames(t, bad, randomDoc(5, 9000)) // a second run of 1/2
	if len(badLines) < 4 {
		t.Fatalf("need 4 chunks or more, have %d", len(badLines))
	}

	flip := func(l string) string {
		i := len(l) / 2
		c := byte('A')
		if l[i] == 'A' {
			c = 'B'
		}
		return l[:i] + string(c) + l[i+1:]
	}
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"missing chunk", without(badLines, 2),
			"incomplete: 1 of 5 chunks missing (3)"},
		{"missing last chunk", without(badLines, len(badLines)-1),
			"incomplete: 1 of 5 chunks missing (5)"},
		{"truncated line", append(without(badLines, 4),
			badLines[4][:len(badLines[4])/2]+"\n"), "chunk 5/5"},
		{"altered chunk", append(without(badLines, 1),
			flip(badLines[1])), "corrupt"},
		{"two runs", append(without(badLines, 99), other[1]),
			"did the shard run " +
				"twice"},
		{"cut short, then another frame on its line", append(
			without(badLines, 3), strings.TrimSuffix(badLines[3][:100],
				"\n")), "chunk 4/5 is not base64"},
		{"extra field", append(without(badLines, 0),
			strings.TrimSuffix(badLines[0], "\n")+" trailing\n"),
			"6 fields"},
	}
	for _, c := range cases {
		logs := strings.Join(c.lines, "") + strings.Join(goodLines, "")
		docs, err := Collect(strings.NewReader(logs))
		var p Problems
		if !errors.As(err, &p) || p[bad] == nil {
			t.Errorf("%s: err = %v, want a problem with %v", c.name,
				err, bad)
			continue
		}
		if !strings.Contains(err.Error(), c.want) ||
			!strings.Contains(err.Error(), "result r1 1/2: ") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if len(docs) != 1 || docs[good] == nil {
			t.Errorf("%s: the whole document was not returned", c.name)
		}
	}
}

func TestCollectRefuses(t *testing.T) {
	line := frames(t, Key{RunID: "r1"}, []byte("{}"))[0]
	for _, c := range []struct{ logs, want string }{
		{strings.Replace(line, "/1 ", "/2 ", 1), "unsupported frame " +
			"version"},
		{Marker + " r1\n", "without run id"},
		{Marker + " r1 3/2 1/1 AAAA\n", "bad shard"},
		{Marker + " r1 x/2 1/1 AAAA\n", "bad shard"},
		{Marker + " r1 0/0 1/1 AAAA\n", "bad shard"},
		{Marker + " r$1 0/2 1/1 AAAA\n", "bad run id"},
		{Marker + " r1 0/2 0/1 AAAA\n", "bad chunk number"},
		{Marker + " r1 0/2 2/1 AAAA\n", "bad chunk number"},
	} {
		docs, err := Collect(strings.NewReader("noise\n" + c.logs))
		var p Problems
		if errors.As(err, &p) && !strings.Contains(c.want, "chunk") {
			t.Errorf("%q: a document problem, want a refusal: %v",
				c.logs, err)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.logs, err, c.want)
		}
		if docs != nil && len(docs) > 0 {
			t.Errorf("%q: documents returned", c.logs)
		}
	}
	docs, err := Collect(strings.NewReader("just logs\n\n"))
	if err != nil || len(docs) != 0 {
		t.Errorf("no frames: %v, %v", docs, err)
	}
}

// TestCollectLongLines checks that a runaway log line longer than
// Collect looks at does not hide the frames around it.
func TestCollectLongLines(t *testing.T) {
	k := Key{RunID: "r1", Index: 0, Count: 1}
	doc := randomDoc(6, 8000)
	lines := frames(t, k, doc)
	long := strings.Repeat("x", 3<<20) + "\n"
	logs := lines[0] + long + strings.Join(lines[1:], long)
	got := collect(t, logs+"last line without an end")
	if !bytes.Equal(got[k], doc) {
		t.Error("the document was not found around long lines")
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, k := range []Key{
		{RunID: "has space"}, {RunID: "-"}, {RunID: "a/b"},
		{RunID: strings.Repeat("r", MaxRunID+1)},
		{Index: 2, Count: 2}, {Index: -1, Count: 2}, {Index: 1},
	} {
		if err := Write(&bytes.Buffer{}, k, []byte("{}")); err == nil {
			t.Errorf("Write(%+v): no error", k)
		}
	}
}

// without returns a copy of lines without line i (if there is one).
func without(lines []string, i int) []string {
	var out []string
	for j, l := range lines {
		if j != i {
			out = append(out, l)
		}
	}
	return out
}
