package netns

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Kubernetes Job is emulated: deploy/kubernetes/render.sh renders
// it, each completion index runs the container's args and env as the
// kubelet would ($(VAR) expanded, JOB_COMPLETION_INDEX set) in a worker
// namespace of its own, the pods' output is kept as "kubectl logs
// --prefix" prints it, and deploy/kubernetes/collect.sh merges it
// through a kubectl stand-in (testdata/kubectl).

// pod is what the emulation takes from the rendered Job.
type pod struct {
	args []string
	env  map[string]string
}

// renderJob renders the Job for run with the load options.
func renderJob(t *testing.T, run string, load []string) pod {
	t.Helper()
	args := append([]string{"-n", strconv.Itoa(e2eShards), "-r", run,
		"-l", "2", "-L", "1", "--"}, load...)
	out, err := exec.Command(abs(t, "../../deploy/kubernetes/render.sh"),
		args...).Output()
	if err != nil {
		t.Fatalf("render.sh: %v", err)
	}
	return parsePod(t, string(out))
}

var (
	envName  = regexp.MustCompile(`^\s+- name: (\S+)`)
	envValue = regexp.MustCompile(`^\s+value: (.*)$`)
)

// parsePod reads the container's args and env from the rendered Job,
// as the template lays them out.
func parsePod(t *testing.T, yaml string) pod {
	t.Helper()
	p := pod{env: map[string]string{}}
	section, name := "", ""
	for _, line := range strings.Split(yaml, "\n") {
		switch strings.TrimSpace(line) {
		case "args:", "env:", "ports:":
			section = strings.TrimSuffix(strings.TrimSpace(line), ":")
			continue
		}
		switch {
		case section == "args" && strings.HasPrefix(line, "        - "):
			p.args = append(p.args, yamlScalar(t,
				strings.TrimPrefix(line, "        - ")))
		case section == "env" && envName.MatchString(line):
			name = envName.FindStringSubmatch(line)[1]
		case section == "env" && envValue.MatchString(line):
			p.env[name] = yamlScalar(t,
				envValue.FindStringSubmatch(line)[1])
		}
	}
	if len(p.args) < 6 || p.env["RUN_ID"] == "" {
		t.Fatalf("no container in the rendered Job:\n%s", yaml)
	}
	return p
}

// yamlScalar reads a plain or double-quoted scalar.
func yamlScalar(t *testing.T, s string) string {
	t.Helper()
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	v, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("scalar %s: %v", s, err)
	}
	return v
}

// kubeletVar is a dependent variable reference, $(VAR), or its escape.
var kubeletVar = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand does what the kubelet does to args: $(VAR) becomes the
// container's VAR when it is defined, and $$ becomes $.
func expand(s string, env map[string]string) string {
	return kubeletVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// runPods runs every completion index in its worker namespace, with
// late, when not negative, starting 3 s late; it returns the logs as
// "kubectl logs --prefix" gives them and whether a pod failed.
func (e *e2e) runPods(t *testing.T, p pod, late int) (string, bool) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		logs   strings.Builder
		failed bool
	)
	for k := range e2eShards {
		env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(k)}
		for n, v := range p.env {
			env[n] = v
		}
		args := []string{"netns", "exec", e.workers[k], e.bin}
		for _, a := range p.args {
			args = append(args, expand(a, env))
		}
		cmd := exec.Command("ip", args...)
		cmd.Env = os.Environ()
		for n, v := range env {
			cmd.Env = append(cmd.Env, n+"="+v)
		}
		wg.Go(func() {
			if k == late {
				time.Sleep(3 * time.Second)
			}
			out, err := cmd.CombinedOutput()
			prefix := fmt.Sprintf("[pod/go-smtp-source-%s-%d-x%d/"+
				"go-smtp-source] ", p.env["RUN_ID"], k, k)
			mu.Lock()
			defer mu.Unlock()
			failed = failed || err != nil
			for line := range strings.Lines(string(out)) {
				logs.WriteString(prefix + line)
			}
		})
	}
	wg.Wait()
	return logs.String(), failed
}

// collect runs collect.sh over the pods' logs through the kubectl
// stand-in.
func (e *e2e) collect(t *testing.T, run, logs string,
	failed bool) ([]byte, string, int) {

	t.Helper()
	dir := t.TempDir()
	state := "Complete"
	if failed {
		state = "Failed"
	}
	for name, data := range map[string]string{"logs": logs,
		"completions": strconv.Itoa(e2eShards), "state": state} {
		err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}
	args := []string{run}
	if failed {
		args = []string{"-p", run}
	}
	cmd := exec.Command(abs(t, "../../deploy/kubernetes/collect.sh"),
		args...)
	cmd.Env = append(os.Environ(), "KUBECTL="+abs(t, "testdata/kubectl"),
		"GO_SMTP_SOURCE="+e.bin, "FAKE_KUBE="+dir, "POLL=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), exitCode(err)
}

func TestKubernetesJobEmulation(t *testing.T) {
	e := setupE2E(t)
	want := e.oneMachine(t)
	load := e2eLoad(e.vars["SINK_ADDR"])

	t.Run("complete", func(t *testing.T) {
		sink := e.startSink(t)
		p := renderJob(t, "k8s-e2e", load)
		logs, failed := e.runPods(t, p, -1)
		if failed {
			t.Fatalf("a pod failed:\n%s", logs)
		}
		doc, stderr, code := e.collect(t, "k8s-e2e", logs, false)
		if code != 0 {
			t.Fatalf("collect.sh: exit %d:\n%s", code, stderr)
		}
		checkRun(t, doc, sink.read(t), want)
		checkOrder(t, doc, []byte(logs))
	})
	t.Run("late pod", func(t *testing.T) {
		e.startSink(t)
		p := renderJob(t, "k8s-late", load)
		logs, failed := e.runPods(t, p, 3)
		if !failed || !strings.Contains(logs,
			"go-smtp-source-k8s-late-3-x3/go-smtp-source] "+
				"go-smtp-source: fatal: missed the start time") {
			t.Errorf("pod 3 did not miss the start:\n%s", logs)
		}
		doc, stderr, code := e.collect(t, "k8s-late", logs, true)
		if code != 0 || !strings.Contains(stderr,
			"partial result: missing shard 3 of 4") {
			t.Errorf("collect.sh -p: exit %d:\n%s", code, stderr)
		}
		if !bytes.Contains(doc, []byte(`"partial": true`)) {
			t.Errorf("the result is not partial: %.300s", doc)
		}
	})
}
