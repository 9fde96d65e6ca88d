package netns

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// These tests run real shards of go-smtp-source, one in each worker
// namespace, through the shipped recipes and real engines, against
// go-smtp-sink in the sink namespace, and check the merged result
// against what the sink received (deploy/README.md; the assertions A1,
// A2, A3 and A8 of the distributed-run reference).

// e2eShards is the number of shards (and worker namespaces).
const e2eShards = 4

// e2eMessages is -m: not a multiple of the shard count, so that the
// shards' shares differ.
const e2eMessages = 42

// e2eLoad are the load options of every run: numbered recipients, one
// per message, so that the sink's dump tells which message g it got.
func e2eLoad(sinkAddr string) []string {
	return []string{"-M", "gen.test", "-f", "s@gen.test", "-t",
		"rcpt@example.test", "-N", "-s", "8", "-d", "-m",
		strconv.Itoa(e2eMessages), sinkAddr + ":2525"}
}

// e2e is the test bed: the built binaries and the topology.
type e2e struct {
	bin, sinkBin, wrap string
	vars               map[string]string
	workers, addrs     []string
}

func setupE2E(t *testing.T) *e2e {
	t.Helper()
	needNetns(t)
	e := &e2e{
		bin:     postfixtest.GoBuild(t, "./cmd/go-smtp-source"),
		sinkBin: postfixtest.GoBuild(t, "./cmd/go-smtp-sink"),
		wrap:    abs(t, "testdata/wrap.sh"),
	}
	e.vars = up(t, e2eShards)
	e.workers = strings.Fields(e.vars["WORKER_NS"])
	e.addrs = strings.Fields(e.vars["WORKER_ADDRS"])
	return e
}

// env is the environment of a recipe: the wrapper as the shards'
// program, the real binary for the merge, a lead of 2 s.
func (e *e2e) env(extra ...string) []string {
	return append(append(os.Environ(), "GO_SMTP_SOURCE="+e.wrap,
		"REAL_GO_SMTP_SOURCE="+e.bin, "GO_SMTP_SOURCE_MERGE="+e.bin,
		"GO_SMTP_SOURCE_LEAD=2"), extra...)
}

// sinkRun is one go-smtp-sink in the sink namespace, dumping every
// transaction to one file.
type sinkRun struct {
	cmd  *exec.Cmd
	dump string
}

// startSink starts go-smtp-sink in the sink namespace and waits until
// it listens.
func (e *e2e) startSink(t *testing.T) *sinkRun {
	t.Helper()
	s := &sinkRun{dump: filepath.Join(t.TempDir(), "dump")}
	s.cmd = exec.Command("ip", "netns", "exec", e.vars["SINK_NS"],
		e.sinkBin, "-D", s.dump, e.vars["SINK_ADDR"]+":2525", "100")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop() })
	for range 100 {
		out, _ := exec.Command("ip", "netns", "exec", e.vars["SINK_NS"],
			"ss", "-ltnH", "sport = :2525").Output()
		if len(bytes.TrimSpace(out)) > 0 {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("go-smtp-sink does not listen")
	return nil
}

func (s *sinkRun) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// received is what the sink got: per client address, the message
// numbers g read back from the recipients.
type received map[string][]int64

// rcptNumber reads a -N recipient, numbered g+1 with one per message
// (Postfix 3.7 numbering).
var rcptNumber = regexp.MustCompile(`^X-Rcpt-Args: <(\d+)rcpt@example\.test>`)

// read stops the sink and reads its dump.
func (s *sinkRun) read(t *testing.T) received {
	t.Helper()
	s.stop()
	f, err := os.Open(s.dump)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := received{}
	addr := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "X-Client-Addr: "); ok {
			addr = a
		}
		if m := rcptNumber.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			got[addr] = append(got[addr], n-1)
		}
	}
	return got
}

// all returns every message number received, sorted.
func (r received) all() []int64 {
	var gs []int64
	for _, v := range r {
		gs = append(gs, v...)
	}
	slices.Sort(gs)
	return gs
}

// oneMachine runs the load unsharded from the first worker and returns
// what the sink received: the reference for the distributed runs.
func (e *e2e) oneMachine(t *testing.T) []int64 {
	t.Helper()
	sink := e.startSink(t)
	cmd := exec.Command("ip", append([]string{"netns", "exec",
		e.workers[0], e.bin, "--no-summary"},
		e2eLoad(e.vars["SINK_ADDR"])...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("one-machine run: %v: %s", err, out)
	}
	gs := sink.read(t).all()
	if len(gs) != e2eMessages {
		t.Fatalf("one-machine run: the sink got %d messages, want %d",
			len(gs), e2eMessages)
	}
	return gs
}

// runRecipe runs a recipe script and returns its standard output (the
// merged result), its standard error, its exit status and the log of
// frames it collected.
func runRecipe(t *testing.T, env []string, script string,
	args ...string) ([]byte, string, int, []byte) {

	t.Helper()
	cmd := exec.Command(abs(t, script), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(env, "LOG="+filepath.Join(cmd.Dir, "run.log"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	logs, _ := os.ReadFile(filepath.Join(cmd.Dir, "run.log"))
	return stdout.Bytes(), stderr.String(), exitCode(err), logs
}

// checkRun checks a merged result against the sink and the one-machine
// run: A1 merged accepted = the sink's count = M; A2 the messages (the
// recipient numbers) are the one-machine run's; A3 each shard's count is
// what the sink saw from the address that sent its messages.
func checkRun(t *testing.T, doc []byte, got received, want []int64) {
	t.Helper()
	res, err := metrics.Decode(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("merged result: %v: %q", err, doc)
	}
	all := got.all()
	if res.Messages.Accepted != e2eMessages ||
		int64(len(all)) != e2eMessages {
		t.Errorf("A1: merged accepted %d, sink got %d, want %d",
			res.Messages.Accepted, len(all), e2eMessages)
	}
	if !slices.Equal(all, want) {
		t.Errorf("A2: messages %v, one-machine run %v", all, want)
	}

	perShard := map[int]int64{}
	for _, s := range res.Sources {
		if s.Shard == nil {
			t.Fatalf("A3: source without a shard: %+v", s)
		}
		perShard[s.Shard.Index] = s.Accepted
	}
	if len(perShard) != e2eShards || len(got) != e2eShards {
		t.Fatalf("A3: %d shards in the result, %d client addresses "+
			"at the sink, want %d", len(perShard), len(got), e2eShards)
	}
	for addr, gs := range got {
		k := int(gs[0] % e2eShards)
		for _, g := range gs {
			if int(g%e2eShards) != k {
				t.Errorf("A3: %s sent messages %d and %d of two "+
					"shards", addr, gs[0], g)
			}
		}
		t.Logf("shard %d: %d accepted, the sink got %d from %s", k,
			perShard[k], len(gs), addr)
		if int64(len(gs)) != perShard[k] {
			t.Errorf("A3: shard %d: %d accepted, the sink got %d "+
				"from %s", k, perShard[k], len(gs), addr)
		}
	}
}

// TestEndToEnd runs each recipe with real shards and then with a late
// shard.
func TestEndToEnd(t *testing.T) {
	e := setupE2E(t)
	want := e.oneMachine(t)
	load := e2eLoad(e.vars["SINK_ADDR"])
	hosts := hostsFile(t, e.workers)

	recipes := []struct {
		name, script string
		env          []string
	}{
		{"parallel", "../../contrib/ssh/run-parallel.sh",
			[]string{"PARALLEL_SSH=" + abs(t, "testdata/nsssh")}},
		{"pdsh", "../../contrib/ssh/run-pdsh.sh",
			[]string{"PDSH_RCMD_TYPE=exec",
				"PDSH_WRAP=ip netns exec %h"}},
	}
	for i, r := range recipes {
		t.Run(r.name, func(t *testing.T) {
			needTools(t, r.name)
			sink := e.startSink(t)
			run := fmt.Sprintf("e2e-%s-%d", r.name, i)
			doc, stderr, code, logs := runRecipe(t,
				e.env(append(r.env, "RUN_ID="+run)...), r.script,
				append([]string{hosts}, load...)...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			checkRun(t, doc, sink.read(t), want)
			checkOrder(t, doc, logs)
		})
		t.Run(r.name+" late shard", func(t *testing.T) {
			needTools(t, r.name)
			e.startSink(t)
			late := e.workers[1]
			doc, stderr, code, _ := runRecipe(t,
				e.env(append(r.env, "RUN_ID=late-"+r.name,
					"WRAP_LATE="+late)...), r.script,
				append([]string{hosts}, load...)...)
			checkLate(t, doc, stderr, code)
		})
	}
}

// checkLate checks A8: the recipe fails, a shard exited 3, and the
// merge names the missing shard and marks the result partial.
func checkLate(t *testing.T, doc []byte, stderr string, code int) {
	t.Helper()
	if !strings.Contains(stderr, "missed the start time") {
		t.Errorf("no shard said it missed the start:\n%s", stderr)
	}
	if code != 3 {
		t.Errorf("a late shard: the recipe exited %d, want 3", code)
	}
	if !regexp.MustCompile(`merge: partial result: missing shard [0-3] ` +
		`of 4`).MatchString(stderr) {
		t.Errorf("the merge did not name the missing shard:\n%s",
			stderr)
	}
	t.Logf("recipe exit %d, stderr:\n%s", code, stderr)
	res, err := metrics.Decode(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("partial result: %v:\n%s", err, stderr)
	}
	if res.Shard == nil || !res.Shard.Partial() {
		t.Errorf("the merged result is not partial: %+v", res.Shard)
	}
}

// TestEndToEndSlurm runs the Slurm recipe on a one-node cluster, each
// srun task in a worker namespace of its own (testdata/wrap.sh).
func TestEndToEndSlurm(t *testing.T) {
	e := setupE2E(t)
	conf := slurm(t)
	want := e.oneMachine(t)

	t.Run("complete", func(t *testing.T) {
		sink := e.startSink(t)
		log, results, code := e.sbatch(t, conf)
		if code != 0 {
			t.Fatalf("job exit %d:\n%s", code, log)
		}
		doc, err := os.ReadFile(slurmResult(t, results))
		if err != nil {
			t.Fatalf("%v:\n%s", err, log)
		}
		checkRun(t, doc, sink.read(t), want)
		var logs []byte
		outs, _ := filepath.Glob(results + "/slurm-*-shard-*.out")
		for _, o := range outs {
			b, _ := os.ReadFile(o)
			logs = append(logs, b...)
		}
		checkOrder(t, doc, logs)
	})
	t.Run("late shard", func(t *testing.T) {
		e.startSink(t)
		log, results, code := e.sbatch(t, conf,
			"WRAP_LATE="+e.workers[2])
		if code == 0 || !strings.Contains(log, "--allow-partial") &&
			!strings.Contains(log, "merging what there is") {
			t.Errorf("job exit %d:\n%s", code, log)
		}
		// The shard's fatal line is in its own output file.
		outs, _ := filepath.Glob(results + "/slurm-*-shard-2.out")
		var shardLog []byte
		if len(outs) == 1 {
			shardLog, _ = os.ReadFile(outs[0])
		}
		if !bytes.Contains(shardLog, []byte("missed the start time")) {
			t.Errorf("shard 2 did not say it missed the start: %q",
				shardLog)
		}
		if !strings.Contains(log, "missing shard 2 of 4") {
			t.Errorf("the merge did not name shard 2:\n%s", log)
		}
		doc, err := os.ReadFile(slurmResult(t, results))
		if err != nil {
			t.Fatalf("%v:\n%s", err, log)
		}
		res, err := metrics.Decode(bytes.NewReader(doc))
		if err != nil || res.Shard == nil || !res.Shard.Partial() {
			t.Errorf("result not partial: %v %+v", err, res)
		}
	})
}

// slurmResult returns the merged result the batch script wrote.
func slurmResult(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(dir + "/slurm-*.json")
	if len(m) != 1 {
		t.Fatalf("merged results in %s: %q", dir, m)
	}
	return m[0]
}

// sbatch submits the Slurm recipe with one task per shard, the real
// binary behind the wrapper, and waits for it; it returns the job's
// output, the directory of results and the job's exit status.
func (e *e2e) sbatch(t *testing.T, conf string, env ...string) (string,
	string, int) {

	t.Helper()
	dir := t.TempDir()
	n := strconv.Itoa(e2eShards)
	args := append([]string{"--parsable", "--nodes=1", "--ntasks=" + n,
		"--ntasks-per-node=" + n, "--time=2",
		"--output=" + dir + "/job.log",
		abs(t, "../../contrib/slurm/go-smtp-source.sbatch")},
		e2eLoad(e.vars["SINK_ADDR"])...)
	cmd := exec.Command("sbatch", args...)
	cmd.Dir = dir
	cmd.Env = append(e.env(env...), "SLURM_CONF="+conf,
		"WRAP_RUN="+e.vars["RUN"], "GO_SMTP_SOURCE_OUT="+dir+"/results")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sbatch: %v: %s", err, out)
	}
	code := waitJob(t, conf, strings.TrimSpace(string(out)))
	log, _ := os.ReadFile(filepath.Join(dir, "job.log"))
	return string(log), dir + "/results", code
}

// checkOrder checks that the recipe's merged histograms equal those of
// merges of the shards' results (taken from the frames in logs) in
// other orders: reversed, and rotated by one.
func checkOrder(t *testing.T, doc, logs []byte) {
	t.Helper()
	docs, err := frame.Collect(bytes.NewReader(logs))
	if err != nil || len(docs) != e2eShards {
		t.Fatalf("frames in the log: %d documents, %v", len(docs), err)
	}
	var shards []*metrics.Result
	for _, k := range slices.SortedFunc(maps.Keys(docs),
		func(a, b frame.Key) int { return a.Index - b.Index }) {
		r, err := metrics.Decode(bytes.NewReader(docs[k]))
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, r)
	}
	merged, err := metrics.Decode(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := latencyJSON(t, merged)
	reversed := slices.Clone(shards)
	slices.Reverse(reversed)
	rotated := append(slices.Clone(shards[1:]), shards[0])
	for _, order := range [][]*metrics.Result{reversed, rotated} {
		m, err := metrics.Merge(order...)
		if err != nil {
			t.Fatal(err)
		}
		if got := latencyJSON(t, m); got != want {
			t.Errorf("histograms of a merge in another order differ:"+
				"\n%s\nwant\n%s", got, want)
		}
	}
}

// latencyJSON returns the result's latency section as JSON, after a
// round trip through the codec, as merge writes it.
func latencyJSON(t *testing.T, r *metrics.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(r.Latency)
	if err != nil {
		t.Fatal(err)
	}
	if len(j) < 100 {
		t.Fatalf("no latencies: %s", j)
	}
	return string(j)
}
