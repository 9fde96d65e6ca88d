package merge

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

var t0 = time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)

// shardResult records a small run of shard k of n: k+3 accepted
// messages and one refused, with latencies that differ per shard.
func shardResult(t *testing.T, run string, k, n int) *metrics.Result {
	t.Helper()
	start := t0.Add(time.Duration(k) * time.Millisecond)
	rec := metrics.New(start)
	s := rec.NewShard()
	s.SessionOpened()
	s.Step(metrics.Connect, time.Duration(100+k)*time.Microsecond, 0, 0)
	for i := range k + 3 {
		d := time.Duration(i+1) * time.Duration(k+1) * time.Millisecond
		s.Step(metrics.EOD, d, 250, 0)
		s.Message(metrics.Accepted, d, 0)
	}
	s.Message(metrics.PermFail, time.Millisecond, 0)
	s.SessionDone(50 * time.Millisecond)
	rec.Tick(start.Add(2 * time.Second))
	res := rec.Result()
	res.RunID, res.ConfigHash = run, "sha256:aa"
	res.Config = map[string]any{"args": []string{"-m", "10", "mx"}}
	res.Shard = &metrics.ShardInfo{Index: k, Count: n}
	return res
}

func encode(t *testing.T, r *metrics.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeShards writes shards ks of an n-shard run as files and returns
// their names.
func writeShards(t *testing.T, dir string, n int, ks ...int) []string {
	t.Helper()
	var names []string
	for _, k := range ks {
		name := filepath.Join(dir, fmt.Sprintf("shard-%d.json", k))
		err := os.WriteFile(name, encode(t, shardResult(t, "r1", k, n)),
			0o644)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// run runs the subcommand and returns its exit status, stdout and
// stderr.
func run(t *testing.T, stdin string, args ...string) (int, string,
	string) {

	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func decode(t *testing.T, s string) *metrics.Result {
	t.Helper()
	r, err := metrics.Decode(strings.NewReader(s))
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	return r
}

func TestMergeFiles(t *testing.T) {
	files := writeShards(t, t.TempDir(), 4, 2, 0, 3, 1)
	code, out, errs := run(t, "", files...)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	r := decode(t, out)
	// Shard k accepted k+3 messages: 3+4+5+6.
	if r.Messages.Accepted != 18 || r.Messages.PermFail != 4 {
		t.Errorf("messages %+v, want 18 accepted, 4 refused", r.Messages)
	}
	if r.Shard == nil || r.Shard.Partial() ||
		fmt.Sprint(r.Shard.Merged) != "[0 1 2 3]" {
		t.Errorf("shard %+v, want all four merged", r.Shard)
	}
	if r.RunID != "r1" || r.ConfigHash != "sha256:aa" {
		t.Errorf("run %q, hash %q", r.RunID, r.ConfigHash)
	}
	if got := r.Phase(metrics.EOD).Count; got != 18 {
		t.Errorf("eod histogram holds %d values, want 18", got)
	}
	// The window is the union of the shards'.
	if r.Time.StartNS != t0.UnixNano() || len(r.Sources) != 4 {
		t.Errorf("start %d, %d sources", r.Time.StartNS, len(r.Sources))
	}
}

// TestMergeOutputFile writes with -o, options after the files.
func TestMergeOutputFile(t *testing.T) {
	dir := t.TempDir()
	files := writeShards(t, dir, 2, 0, 1)
	outName := filepath.Join(dir, "run.json")
	code, out, errs := run(t, "", files[0], "-o", outName, files[1])
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	data, err := os.ReadFile(outName)
	if err != nil {
		t.Fatal(err)
	}
	if r := decode(t, string(data)); r.Messages.Accepted != 7 {
		t.Errorf("accepted %d, want 7", r.Messages.Accepted)
	}
}

func TestMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	files := writeShards(t, dir, 4, 0, 1, 2, 3)
	other := func(name string, edit func(*metrics.Result)) string {
		r := shardResult(t, "r1", 3, 4)
		edit(r)
		p := filepath.Join(dir, name)
		os.WriteFile(p, encode(t, r), 0o644)
		return p
	}
	run2 := other("run2.json", func(r *metrics.Result) { r.RunID = "r2" })
	hash := other("hash.json", func(r *metrics.Result) {
		r.ConfigHash = "sha256:bb"
	})
	// Another -m: the error names it, from the kept command lines.
	moreMsgs := other("more.json", func(r *metrics.Result) {
		r.ConfigHash = "sha256:cc"
		r.Config = map[string]any{"args": []string{"-m", "99", "mx"}}
	})
	of8 := other("of8.json", func(r *metrics.Result) {
		r.Shard = &metrics.ShardInfo{Index: 3, Count: 8}
	})
	bare := other("bare.json", func(r *metrics.Result) { r.Shard = nil })

	cases := []struct {
		args []string
		want string
	}{
		{[]string{files[0], files[2]}, "missing shards 1, 3 of 4 " +
			"(--allow-partial merges without them)"},
		{[]string{files[0], files[1], files[2]}, "missing shard 3 of 4"},
		{append(files, files[2]), "shard 2/4 appears twice: in " +
			files[2] + " and in " + files[2]},
		{append(files[:3:3], run2), `run ids differ: "r1" in ` +
			files[0] + `, "r2" in ` + run2},
		{append(files[:3:3], hash), "config hashes (options) differ"},
		{append(files[:3:3], moreMsgs), `(first difference: -m="10" ` +
			`in one, -m="99" in the other)`},
		{append(files[:3:3], of8), `shard counts differ: "4"`},
		{append(files[:3:3], bare), "sharding differ"},
		{[]string{filepath.Join(dir, "none.json")}, "no such file"},
		{[]string{"--run-id", "r9", files[0]}, `run "r1", not "r9"`},
	}
	for _, c := range cases {
		code, out, errs := run(t, "", c.args...)
		if code != 1 || out != "" {
			t.Errorf("%q: exit %d, stdout %d bytes", c.args, code,
				len(out))
		}
		if !strings.HasPrefix(errs, "go-smtp-source: fatal: merge: ") ||
			!strings.Contains(errs, c.want) ||
			strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line with %q", c.args,
				errs, c.want)
		}
	}
}

func TestMergeAllowPartial(t *testing.T) {
	files := writeShards(t, t.TempDir(), 4, 0, 2, 3)
	code, out, errs := run(t, "", append(files, "--allow-partial")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "go-smtp-source: warning: merge: partial result: missing " +
		"shard 1 of 4\n"
	if errs != want {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	r := decode(t, out)
	if !r.Shard.Partial() || !strings.Contains(out, `"partial": true`) {
		t.Errorf("not marked partial: %+v", r.Shard)
	}
	if r.Messages.Accepted != 3+5+6 {
		t.Errorf("accepted %d", r.Messages.Accepted)
	}
}

func TestMergeUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--bogus", "a.json"},
		{"-o"}} {
		code, _, errs := run(t, "", args...)
		if code != 2 || !strings.Contains(errs, "(try --help)") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs)
		}
	}
	code, out, _ := run(t, "", "--help")
	if code != 0 || !strings.HasPrefix(out, "usage: go-smtp-source "+
		"merge") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

// logsOf frames shard results as engines collect them: with a kubectl
// --prefix, stderr lines between, the shards interleaved.
func logsOf(t *testing.T, rs ...*metrics.Result) string {
	t.Helper()
	var per [][]string
	for _, r := range rs {
		var b bytes.Buffer
		k := frame.Key{RunID: r.RunID, Index: r.Shard.Index,
			Count: r.Shard.Count}
		if err := frame.Write(&b, k, encode(t, r)); err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("[pod/go-smtp-source-r1-%d-abcde/"+
			"go-smtp-source] ", r.Shard.Index)
		var lines []string
		for l := range strings.Lines(b.String()) {
			lines = append(lines, p+l, p+"go-smtp-source: summary: "+
				"accepted=3\n")
		}
		per = append(per, lines)
	}
	var out strings.Builder
	for i := 0; ; i++ {
		done := true
		for _, lines := range per {
			if i < len(lines) {
				out.WriteString(lines[i])
				done = false
			}
		}
		if done {
			return out.String()
		}
	}
}

// TestMergeFromLogs checks that merging the framed logs gives exactly
// the bytes that merging the files gives.
func TestMergeFromLogs(t *testing.T) {
	dir := t.TempDir()
	files := writeShards(t, dir, 3, 0, 1, 2)
	_, want, _ := run(t, "", files...)

	var rs []*metrics.Result
	for k := range 3 {
		rs = append(rs, shardResult(t, "r1", k, 3))
	}
	logs := logsOf(t, rs...)
	code, got, errs := run(t, logs, "--from-logs")
	if code != 0 || errs != "" {
		t.Fatalf("stdin: exit %d: %s", code, errs)
	}
	if got != want {
		t.Error("merging the logs differs from merging the files")
	}

	// Slurm: one output file per shard, read twice by a careless glob.
	var names []string
	for k, r := range rs {
		name := filepath.Join(dir, fmt.Sprintf("shard-%d.out", k))
		os.WriteFile(name, []byte("srun: starting\n"+logsOf(t, r)), 0o644)
		names = append(names, name)
	}
	code, got, errs = run(t, "", append([]string{"--from-logs"},
		append(names, names[1])...)...)
	if code != 0 || errs != "" || got != want {
		t.Errorf("files: exit %d: %s", code, errs)
	}
}

func TestMergeFromLogsProblems(t *testing.T) {
	var rs []*metrics.Result
	for k := range 3 {
		rs = append(rs, shardResult(t, "r1", k, 3))
	}
	logs := logsOf(t, rs...)

	// Shard 1's result lost a line (its pod was killed mid-write).
	var cut []string
	for l := range strings.Lines(logs) {
		if !strings.Contains(l, frame.Marker+" r1 1/3 ") {
			cut = append(cut, l)
		}
	}
	code, _, errs := run(t, strings.Join(cut, ""), "--from-logs")
	if code != 1 || !strings.Contains(errs, "missing shard 1 of 3") {
		t.Errorf("lost shard: exit %d, %q", code, errs)
	}

	// A shard of another run in the same logs.
	other := shardResult(t, "r2", 0, 3)
	mixed := logs + logsOf(t, other)
	code, _, errs = run(t, mixed, "--from-logs")
	if code != 1 || !strings.Contains(errs, "run ids differ") {
		t.Errorf("mixed runs: exit %d, %q", code, errs)
	}
	code, out, errs := run(t, mixed, "--from-logs", "--run-id", "r1")
	if code != 0 || errs != "" || decode(t, out).Messages.Accepted != 12 {
		t.Errorf("--run-id r1: exit %d, %q", code, errs)
	}

	// A frame that says shard 0 around a document of shard 2.
	var b bytes.Buffer
	frame.Write(&b, frame.Key{RunID: "r1", Index: 0, Count: 3},
		encode(t, rs[2]))
	code, _, errs = run(t, b.String(), "--from-logs")
	if code != 1 || !strings.Contains(errs, "different shards") {
		t.Errorf("mislabelled: exit %d, %q", code, errs)
	}

	code, _, errs = run(t, "nothing here\n", "--from-logs")
	if code != 1 || !strings.Contains(errs, "no result in the logs") {
		t.Errorf("empty logs: exit %d, %q", code, errs)
	}
}

// TestMergeFromLogsTruncated drops one chunk of a shard's result: the
// merge fails naming it, and --allow-partial merges the others.
func TestMergeFromLogsTruncated(t *testing.T) {
	var rs []*metrics.Result
	for k := range 2 {
		rs = append(rs, shardResult(t, "r1", k, 2))
	}
	// A long config makes shard 1's document span several chunks.
	rng := rand.New(rand.NewPCG(1, 1))
	var pad strings.Builder
	for range 3000 {
		fmt.Fprintf(&pad, "%x", rng.Uint32())
	}
	rs[1].Config = map[string]any{"pad": pad.String()}
	rs[0].Config = rs[1].Config
	logs := logsOf(t, rs...)
	var cut []string
	for l := range strings.Lines(logs) {
		if !strings.Contains(l, " r1 1/2 2/") {
			cut = append(cut, l)
		}
	}
	if len(cut) == len(strings.Split(logs, "\n"))-1 {
		t.Fatal("no second chunk to drop")
	}
	code, _, errs := run(t, strings.Join(cut, ""), "--from-logs")
	if code != 1 || !strings.Contains(errs, "result r1 1/2: "+
		"incomplete") {
		t.Errorf("exit %d, %q", code, errs)
	}
	code, out, errs := run(t, strings.Join(cut, ""), "--from-logs",
		"--allow-partial")
	if code != 0 || !strings.Contains(errs, "left out: result r1 1/2") ||
		!strings.Contains(errs, "missing shard 1 of 2") {
		t.Errorf("--allow-partial: exit %d, %q", code, errs)
	}
	if code == 0 && decode(t, out).Messages.Accepted != 3 {
		t.Error("shard 0 was not kept")
	}
}

func TestMergeWarnsIncomplete(t *testing.T) {
	dir := t.TempDir()
	files := writeShards(t, dir, 2, 0)
	r := shardResult(t, "r1", 1, 2)
	r.Time.Complete = false
	p := filepath.Join(dir, "stopped.json")
	os.WriteFile(p, encode(t, r), 0o644)
	code, out, errs := run(t, "", files[0], p)
	if code != 0 || !strings.Contains(errs, p+": the run was stopped "+
		"early") {
		t.Errorf("exit %d, %q", code, errs)
	}
	if decode(t, out).Time.Complete {
		t.Error("the merge of a stopped shard is marked complete")
	}
}
