package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests run the shipped recipes (contrib/ssh, contrib/slurm)
// through the real engines with a stand-in for go-smtp-source
// (testdata/stub.sh) that reports the shard and arguments each process
// got: they check the recipes' plumbing (one shard per host, arguments
// intact, failures stopping the run, the merge called as it should
// be), not the load, which the end-to-end tests with the real binary
// cover (e2e_test.go, kube_test.go).

// needTools skips the test unless the commands are installed; with
// CI=true it fails instead, since .ci/run installs them.
func needTools(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed in CI", c)
			}
			t.Skipf("%s is not installed", c)
		}
	}
}

func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stubLine is what the stand-in prints: its shard, its namespace and
// its arguments.
var stubLine = regexp.MustCompile(`stub shard=(\S+) ns=(\S+) args: (.*)`)

type stubRun struct {
	shard, ns string
	args      []string
}

// stubRuns reads the stand-in's lines from the recipe's output.
func stubRuns(out string) []stubRun {
	var runs []stubRun
	for _, m := range stubLine.FindAllStringSubmatch(out, -1) {
		r := stubRun{shard: m[1], ns: m[2]}
		for _, a := range strings.Split(m[3], "] [") {
			r.args = append(r.args, strings.Trim(a, "[]"))
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b stubRun) int {
		return strings.Compare(a.shard, b.shard)
	})
	return runs
}

// recipe runs a recipe script with env added and returns its combined
// output and error.
func recipe(t *testing.T, env []string, script string,
	args ...string) (string, error) {

	t.Helper()
	cmd := exec.Command(abs(t, script), args...)
	cmd.Dir = t.TempDir()
	stub := abs(t, "testdata/stub.sh")
	cmd.Env = append(append(os.Environ(), "GO_SMTP_SOURCE="+stub,
		"GO_SMTP_SOURCE_LEAD=1", "RUN_ID=t1",
		"LOG="+filepath.Join(cmd.Dir, "run.log")), env...)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
	}()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// loadArgs are load options that need quoting on their way.
var loadArgs = []string{"-S", `a b$c 'q'`, "-m", "10", `x"y`}

// checkShards checks that each worker namespace ran one shard with the
// load arguments intact.
func checkShards(t *testing.T, out string, workers []string,
	wantShards []string, prefix []string) {

	t.Helper()
	runs := stubRuns(out)
	if len(runs) != len(workers) {
		t.Fatalf("%d shards ran, want %d:\n%s", len(runs), len(workers),
			out)
	}
	var nss []string
	for i, r := range runs {
		if r.shard != wantShards[i] {
			t.Errorf("shard %q, want %q", r.shard, wantShards[i])
		}
		nss = append(nss, r.ns)
		tail := r.args[len(r.args)-len(loadArgs):]
		if !slices.Equal(tail, loadArgs) {
			t.Errorf("shard %s: load args %q, want %q", r.shard, tail,
				loadArgs)
		}
		if !slices.Equal(r.args[:len(prefix)], prefix) {
			t.Errorf("shard %s: args %q, want them to start %q",
				r.shard, r.args, prefix)
		}
	}
	slices.Sort(nss)
	if !slices.Equal(nss, workers) {
		t.Errorf("shards ran in %v, want one in each of %v", nss,
			workers)
	}
}

func hostsFile(t *testing.T, hosts []string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "hosts")
	data := "# workers\n" + strings.Join(hosts, "\n") + "\n"
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestParallelRecipe(t *testing.T) {
	needNetns(t)
	needTools(t, "parallel")
	v := up(t, 3)
	workers := strings.Fields(v["WORKER_NS"])
	hosts := hostsFile(t, workers)
	env := []string{"PARALLEL_SSH=" + abs(t, "testdata/nsssh")}

	out, err := recipe(t, env, "../../contrib/ssh/run-parallel.sh",
		append([]string{hosts}, loadArgs...)...)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	checkShards(t, out, workers, []string{"0/3", "1/3", "2/3"},
		[]string{"--shard=" + "0/3"}[:0])
	if !strings.Contains(out, "merge: --from-logs ") ||
		strings.Contains(out, "--allow-partial") {
		t.Errorf("merge not called as expected:\n%s", out)
	}

	// Shard 1 misses the start: --halt stops the others at once, and
	// the merge is partial.
	start := time.Now()
	out, err = recipe(t, append(env, "STUB_FAIL=1"),
		"../../contrib/ssh/run-parallel.sh",
		append([]string{hosts}, loadArgs...)...)
	if err == nil || !strings.Contains(out, "--allow-partial") {
		t.Errorf("a failed shard: %v:\n%s", err, out)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the other shards ran on for %v", d)
	}
}

func TestPdshRecipe(t *testing.T) {
	needNetns(t)
	needTools(t, "pdsh")
	v := up(t, 2)
	workers := strings.Fields(v["WORKER_NS"])
	hosts := hostsFile(t, workers)
	env := []string{"PDSH_RCMD_TYPE=exec", "PDSH_WRAP=ip netns exec %h"}

	out, err := recipe(t, env, "../../contrib/ssh/run-pdsh.sh",
		append([]string{hosts}, loadArgs...)...)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	checkShards(t, out, workers, workers, []string{"--shard-key"})
	for _, r := range stubRuns(out) {
		i := slices.Index(r.args, "--shard-keys")
		if i < 0 || r.args[i+1] != strings.Join(workers, ",") {
			t.Errorf("%s: args %q lack --shard-keys %s", r.shard,
				r.args, strings.Join(workers, ","))
		}
	}

	// A shard that misses the start makes the recipe fail with its
	// status, after a partial merge.
	// pdsh waits for the others, which wait 2 s.
	out, err = recipe(t, append(env, "STUB_FAIL="+workers[0],
		"STUB_SLEEP=2"), "../../contrib/ssh/run-pdsh.sh",
		append([]string{hosts}, loadArgs...)...)
	if code := exitCode(err); code != 3 ||
		!strings.Contains(out, "--allow-partial") {
		t.Errorf("a failed shard: exit %d:\n%s", code, out)
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// slurm starts a one-node cluster (slurm.sh) for the test and returns
// its SLURM_CONF.
func slurm(t *testing.T) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("the Slurm daemons need root")
	}
	needTools(t, "slurmctld", "slurmd", "munged", "sbatch", "srun")
	dir := t.TempDir()
	// The state directory must be reachable by the daemons only.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("./slurm.sh", "start", dir).CombinedOutput()
	t.Cleanup(func() {
		if out, err := exec.Command("./slurm.sh", "stop",
			dir).CombinedOutput(); err != nil {
			t.Errorf("slurm.sh stop: %v: %s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("slurm.sh start: %v: %s", err, out)
	}
	return filepath.Join(dir, "slurm.conf")
}

// sbatch submits the Slurm recipe with 3 tasks and waits for it; it
// returns the job's output, the directory of results and the job's
// exit status. (sbatch --wait would take up to 10 s more to notice.)
func sbatch(t *testing.T, conf string, env ...string) (string, string,
	int) {

	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--parsable", "--nodes=1", "--ntasks=3",
		"--ntasks-per-node=3", "--time=2", "--output=" + dir + "/job.log",
		abs(t, "../../contrib/slurm/go-smtp-source.sbatch")},
		loadArgs...)
	cmd := exec.Command("sbatch", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "SLURM_CONF="+conf,
		"GO_SMTP_SOURCE="+abs(t, "testdata/stub.sh"),
		"GO_SMTP_SOURCE_LEAD=1", "GO_SMTP_SOURCE_OUT="+dir+"/results"),
		env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sbatch: %v: %s", err, out)
	}
	code := waitJob(t, conf, strings.TrimSpace(string(out)))
	log, _ := os.ReadFile(filepath.Join(dir, "job.log"))
	return string(log), dir + "/results", code
}

// jobState reads a finished job's state and exit status from scontrol.
var jobState = regexp.MustCompile(`JobState=(\S+) .*ExitCode=(\d+):`)

// waitJob polls the job until it ends, for 60 s at most, and returns
// its exit status.
func waitJob(t *testing.T, conf, id string) int {
	t.Helper()
	for range 300 {
		cmd := exec.Command("scontrol", "-o", "show", "job", id)
		cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scontrol show job %s: %v", id, err)
		}
		m := jobState.FindStringSubmatch(string(out))
		switch {
		case m == nil:
			t.Fatalf("scontrol: %s", out)
		case m[1] != "PENDING" && m[1] != "RUNNING" &&
			m[1] != "COMPLETING" && m[1] != "CONFIGURING":
			var code int
			fmt.Sscan(m[2], &code)
			return code
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("job %s did not end in 60 s", id)
	return 0
}

func TestSlurmRecipe(t *testing.T) {
	conf := slurm(t)
	t.Run("complete", func(t *testing.T) { slurmComplete(t, conf) })
	t.Run("late shard", func(t *testing.T) { slurmLateShard(t, conf) })
}

func slurmComplete(t *testing.T, conf string) {
	out, results, code := sbatch(t, conf)
	if code != 0 {
		t.Fatalf("job exit %d:\n%s", code, out)
	}
	// The merge got each task's output file, which holds what the
	// shard printed.
	var files []string
	for k := range 3 {
		matches, _ := filepath.Glob(fmt.Sprintf(
			"%s/slurm-*-shard-%d.out", results, k))
		if len(matches) != 1 {
			t.Fatalf("no output file of shard %d in %s:\n%s", k,
				results, out)
		}
		files = append(files, matches[0])
	}
	if !strings.Contains(out, "merge: --from-logs -o ") ||
		!strings.Contains(out, strings.Join(files, " ")) {
		t.Errorf("merge not called on the shards' files:\n%s", out)
	}
	runs := stubRuns(out)
	if len(runs) != 3 {
		t.Fatalf("%d shards ran:\n%s", len(runs), out)
	}
	for k, r := range runs {
		want := fmt.Sprintf("%d/3", k)
		if r.shard != want || r.args[0] != "--shard=auto" ||
			!strings.HasPrefix(r.args[2], "--run-id=slurm-") ||
			!slices.Equal(r.args[4:], loadArgs) {
			t.Errorf("task %d: shard %s args %q", k, r.shard, r.args)
		}
	}
}

func slurmLateShard(t *testing.T, conf string) {
	start := time.Now()
	out, _, code := sbatch(t, conf, "STUB_FAIL=2")
	if code == 0 || !strings.Contains(out, "--allow-partial") {
		t.Errorf("a failed shard: exit %d:\n%s", code, out)
	}
	// --kill-on-bad-exit stopped the shards that waited 20 s.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the job ran on for %v:\n%s", d, out)
	}
}
