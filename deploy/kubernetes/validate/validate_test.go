package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// render runs render.sh with args and returns the manifests it writes.
func render(t *testing.T, args ...string) string {
	t.Helper()
	out, err := renderErr(args...)
	if err != nil {
		t.Fatalf("render.sh %q: %v", args, err)
	}
	return out
}

func renderErr(args ...string) (string, error) {
	cmd := exec.Command("sh", append([]string{"../render.sh"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}

// load decodes manifests and the shipped PodMonitor.
func load(t *testing.T, manifests string) (*Manifests, error) {
	t.Helper()
	pm, err := os.ReadFile("../podmonitor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifests{}
	if err := m.Add([]byte(manifests)); err != nil {
		return nil, err
	}
	if err := m.Add(pm); err != nil {
		t.Fatalf("podmonitor.yaml: %v", err)
	}
	return m, nil
}

// TestRenderedManifests renders the Job for several shard counts and
// checks every invariant, and what each pod will run.
func TestRenderedManifests(t *testing.T) {
	for _, n := range []int{1, 2, 8, 100} {
		run := fmt.Sprintf("t%d", n)
		out := render(t, "-n", fmt.Sprint(n), "-r", run, "-i",
			"registry.test/go-smtp-source:1", "-s", "2026-12-03T16:02:00Z",
			"--", "-s", fmt.Sprint(2*n), "-m", "1000", "-r", "2", "-N",
			"-S", `a "$(HOME)" \ b`, "mx.test:25")
		m, err := load(t, out)
		if err != nil {
			t.Fatalf("N=%d: %v", n, err)
		}
		if errs := m.Check(); len(errs) > 0 {
			t.Fatalf("N=%d: %v", n, errs)
		}
		if *m.Job.Spec.Completions != int32(n) {
			t.Errorf("N=%d: completions %d", n, *m.Job.Spec.Completions)
		}

		args := PodArgs(container(m.Job), n-1)
		want := []string{"--shard=auto",
			"--start-at=2026-12-03T16:02:00Z", "--run-id=" + run,
			"--out=-", "--metrics-addr=:9464", "--linger=30s", "-s",
			fmt.Sprint(2 * n), "-m", "1000", "-r", "2", "-N", "-S",
			`a "$(HOME)" \ b`, "mx.test:25"}
		if fmt.Sprint(args) != fmt.Sprint(want) {
			t.Errorf("N=%d: pod args\n%q\nwant\n%q", n, args, want)
		}
	}
}

// TestBrokenManifests breaks one invariant at a time: each must be
// caught.
func TestBrokenManifests(t *testing.T) {
	good := render(t, "-n", "8", "-r", "r1", "-s", "2026-12-03T16:02:00Z",
		"--", "-s", "16", "-m", "1000", "mx.test:25")
	// The default deadline: 120 lead + 600 load + 30 linger + 30 grace
	// + 60 spare.
	cases := []struct{ old, new, want string }{
		{"backoffLimit: 0", "backoffLimit: 2", "backoffLimit must be 0"},
		{"parallelism: 8", "parallelism: 4", "completions and parallelism"},
		{`value: "8"`, `value: "4"`, "GO_SMTP_SOURCE_SHARDS"},
		{"completionMode: Indexed", "completionMode: NonIndexed",
			"completionMode"},
		{"values: [3]", "values: [4]", "exit code 3"},
		{"action: FailJob", "action: Ignore", "must not Ignore"},
		{"restartPolicy: Never", "restartPolicy: OnFailure",
			"restartPolicy"},
		{"ttlSecondsAfterFinished: 86400", "ttlSecondsAfterFinished: 0",
			"ttlSecondsAfterFinished"},
		{"containerPort: 9464", "containerPort: 9465", "port metrics"},
		{"subdomain: go-smtp-source-r1", "subdomain: other",
			"subdomain"},
		{"  selector:\n    app.kubernetes.io/name: go-smtp-source\n" +
			"    go-smtp-source/run: r1",
			"  selector:\n    go-smtp-source/run: r2", "does not select"},
		{"clusterIP: None", "clusterIP: 10.0.0.1", "headless"},
		{"activeDeadlineSeconds: 840", "activeDeadlineSeconds: 700",
			"activeDeadlineSeconds must be"},
		{"--shard=auto", "--shard=0/8", "--shard=auto"},
		{"--out=-", "--out=/tmp/r.json", "--out=-"},
		{"--run-id=$(RUN_ID)", "--run-id=$(RUN)", "$(RUN) is not in"},
		{"--run-id=$(RUN_ID)", "--run-id=r2", "--run-id=\"r2\" must"},
		{"--start-at=$(START_AT)", "--start-at=soon", "RFC 3339"},
		{"name: go-smtp-source\n        image", "name: other\n" +
			"        image", "no container"},
		// Strict decoding: a misspelt field and a duplicate one.
		{"backoffLimit: 0", "backofLimit: 0", "unknown field"},
		{"parallelism: 8", "parallelism: 8\n  parallelism: 8",
			"already set"},
	}
	for _, c := range cases {
		if !strings.Contains(good, c.old) {
			t.Fatalf("%q is not in the rendered manifests", c.old)
		}
		bad := strings.Replace(good, c.old, c.new, 1)
		m, err := load(t, bad)
		if err == nil {
			errs := m.Check()
			if len(errs) > 0 {
				err = fmt.Errorf("%v", errs)
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q -> %q: err = %v, want %q", c.old, c.new, err,
				c.want)
		}
	}
}

func TestPodMonitorChecked(t *testing.T) {
	good := render(t, "-n", "2", "-r", "r1", "--", "mx.test:25")
	m, err := load(t, good)
	if err != nil {
		t.Fatal(err)
	}
	m.PodMonitor["spec"].(map[string]any)["podMetricsEndpoints"] =
		[]any{map[string]any{"port": "http"}}
	if errs := m.Check(); len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), "not metrics") {
		t.Errorf("errs = %v", errs)
	}
	pod := []byte("apiVersion: v1\nkind: Pod\n")
	if err := (&Manifests{}).Add(pod); err == nil {
		t.Error("a Pod was accepted")
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0", "--", "x"},
		{"-n", "10001", "--", "x"},
		{"-n", "two", "--", "x"},
		{"-n", "2"},
		{"-n", "2", "-r", "Run_1", "--", "x"},
		{"-n", "2", "-r", "-r1", "--", "x"},
		{"-n", "2", "-r", strings.Repeat("r", 31), "--", "x"},
		{"-n", "2", "-s", "tomorrow", "--", "x"},
		{"-n", "2", "-l", "-5", "--", "x"},
		{"-n", "2", "-p", "70000", "--", "x"},
		{"-n", "2", "--", "-S", "two\nlines", "x"},
		{"-n", "2", "-t", "/nonexistent", "--", "x"},
	} {
		if out, err := renderErr(args...); err == nil {
			t.Errorf("render.sh %q: no error; wrote %d bytes", args,
				len(out))
		}
	}
}

// TestRenderDefaults checks the start render.sh computes and the
// deadline it leaves.
func TestRenderDefaults(t *testing.T) {
	out := render(t, "-n", "3", "-l", "60", "-d", "300", "--", "x")
	m, err := load(t, out)
	if err != nil {
		t.Fatal(err)
	}
	if errs := m.Check(); len(errs) > 0 {
		t.Fatal(errs)
	}
	// 60 + 300 + 30 linger + 30 grace + 60 spare.
	if d := *m.Job.Spec.ActiveDeadlineSeconds; d != 480 {
		t.Errorf("activeDeadlineSeconds %d, want 480", d)
	}
	if !strings.HasPrefix(m.Job.Name, "go-smtp-source-r") {
		t.Errorf("default name %q", m.Job.Name)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "x", "B": ""}
	for in, want := range map[string]string{
		"$(A)":           "x",
		"$(A)$(B)-$(C)":  "x-$(C)",
		"$$(A)":          "$(A)",
		"$$$(A)":         "$x",
		"a$":             "a$",
		"$(A":            "$(A",
		"cost: $5 $(A)!": "cost: $5 x!",
	} {
		if got, _ := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(render(t, "-n", "4", "--", "x")), 0o644)
	exe := filepath.Join(dir, "validate")
	if out, err := exec.Command("go", "build", "-o", exe,
		".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe, job, "../podmonitor.yaml").CombinedOutput()
	if err != nil || string(out) != "validate: ok\n" {
		t.Errorf("validate: %v, %q", err, out)
	}
	os.WriteFile(job, []byte(strings.Replace(render(t, "-n", "4", "--",
		"x"), "backoffLimit: 0", "backoffLimit: 6", 1)), 0o644)
	out, err = exec.Command(exe, job).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "backoffLimit") {
		t.Errorf("broken job: %v, %q", err, out)
	}
}

// fakeKubectl writes a kubectl that answers collect.sh from files in
// dir: the Job's conditions one look at a time (conditions.N), and the
// pods' logs (logs); it records its calls in calls.
const fakeKubectl = `#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
case "$*" in
*"{.spec.completions}"*) echo 2 ;;
*conditions*)
	n=$(grep -c conditions "$dir/calls")
	f="$dir/conditions.$n"
	[ -f "$f" ] || f=$(ls "$dir"/conditions.* | tail -n 1)
	cat "$f" ;;
*describe*) echo "Events: shard 1 exited 3" ;;
*" logs "*) cat "$dir/logs" ;;
*) exit 1 ;;
esac
`

func TestCollectScript(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data),
			mode); err != nil {
			t.Fatal(err)
		}
	}
	write("kubectl", fakeKubectl, 0o755)
	// A merge that shows what it was given.
	write("merge", "#!/bin/sh\necho \"args: $*\"\ncat\n", 0o755)
	write("logs", "[pod/a/go-smtp-source] frame 0\n", 0o644)
	collect := func(conds []string, args ...string) (string, error) {
		os.Remove(filepath.Join(dir, "calls"))
		for i, c := range conds {
			write(fmt.Sprintf("conditions.%d", i+1), c, 0o644)
		}
		cmd := exec.Command("sh", append([]string{"../collect.sh"},
			args...)...)
		cmd.Env = append(os.Environ(), "KUBECTL="+dir+"/kubectl",
			"GO_SMTP_SOURCE="+dir+"/merge", "POLL=0")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Running, then complete: the logs of run r1 go to merge.
	out, err := collect([]string{"", "SuccessCriteriaMet Complete"},
		"-n", "load", "r1")
	want := "args: merge --from-logs --run-id r1\n" +
		"[pod/a/go-smtp-source] frame 0\n"
	if err != nil || out != want {
		t.Errorf("complete: %v, %q; want %q", err, out, want)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if !strings.Contains(string(calls), "--namespace load logs -l "+
		"go-smtp-source/run=r1 --tail=-1 --prefix --max-log-requests=2") {
		t.Errorf("kubectl calls:\n%s", calls)
	}

	// Failed: refused, unless -p asks for a partial merge.
	os.Remove(filepath.Join(dir, "conditions.2"))
	out, err = collect([]string{"FailureTarget Failed"}, "r1")
	if err == nil || !strings.Contains(out, "failed; -p merges") {
		t.Errorf("failed: %v, %q", err, out)
	}
	out, err = collect([]string{"FailureTarget Failed"}, "-p", "r1")
	if err != nil || !strings.Contains(out, "--allow-partial") {
		t.Errorf("failed, -p: %v, %q", err, out)
	}

	// Never finishing: gives up after the timeout.
	out, err = collect([]string{""}, "-t", "0", "r1")
	if err == nil || !strings.Contains(out, "still running") {
		t.Errorf("timeout: %v, %q", err, out)
	}
}
