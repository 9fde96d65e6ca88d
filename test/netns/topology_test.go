// Package netns tests the network-namespace topology that the
// distributed-run tests use (topology.sh).
package netns

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needNetns skips the test unless it runs as root with a working
// "ip netns"; with CI=true a missing ip fails it instead.
func needNetns(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no ip command (iproute2) in CI")
		}
		t.Skip("no ip command (iproute2)")
	}
	if os.Getuid() != 0 {
		t.Skip("network namespaces need root")
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Skipf("ip netns does not work here: %v: %s", err, out)
	}
}

// topology runs topology.sh with args.
func topology(args ...string) (string, error) {
	out, err := exec.Command("./topology.sh", args...).CombinedOutput()
	return string(out), err
}

// runs counts the topologies built, to name each one apart.
var runs int

// up builds a topology of n workers and returns its variables; it is
// torn down when the test ends.
func up(t *testing.T, n int) map[string]string {
	t.Helper()
	runs++
	run := fmt.Sprintf("t%d%d", os.Getpid()%10000, runs%100)
	out, err := topology("up", fmt.Sprint(n), run)
	t.Cleanup(func() {
		if out, err := topology("down", run); err != nil {
			t.Errorf("down: %v: %s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("up: %v: %s", err, out)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = strings.Trim(v, "'")
	}
	if vars["RUN"] != run {
		t.Fatalf("up printed %q", out)
	}
	return vars
}

// helper starts this test binary in namespace ns as a helper process
// (see TestHelperProcess) doing what.
func helper(ns, what string) *exec.Cmd {
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "NETNS_HELPER="+what)
	return cmd
}

// TestHelperProcess is not a test: run by helper inside a namespace, it
// either listens on an address and prints the source address of each
// of two connections, or dials an address and prints what it read.
func TestHelperProcess(t *testing.T) {
	what, ok := os.LookupEnv("NETNS_HELPER")
	if !ok {
		return
	}
	defer os.Exit(0)
	verb, addr, _ := strings.Cut(what, " ")
	switch verb {
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("ready")
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Println("from", host)
			fmt.Fprintf(c, "hello %s\n", host)
			c.Close()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Print(line)
	}
}

func TestTopology(t *testing.T) {
	needNetns(t)
	v := up(t, 2)
	workers := strings.Fields(v["WORKER_NS"])
	addrs := strings.Fields(v["WORKER_ADDRS"])
	if len(workers) != 2 || v["SINK_ADDR"] != "198.18.0.1" ||
		fmt.Sprint(addrs) != "[198.18.0.11 198.18.0.12]" {
		t.Fatalf("variables %v", v)
	}

	// No namespace has a default route.
	for _, ns := range append(workers, v["SINK_NS"]) {
		out, err := exec.Command("ip", "-n", ns, "route", "show",
			"default").CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("%s: default route %q, %v", ns, out, err)
		}
	}

	// A listener in the sink namespace sees each worker by its own
	// address, which is how the sink attributes messages to shards.
	sink := helper(v["SINK_NS"], "listen 198.18.0.1:2525")
	stdout, _ := sink.StdoutPipe()
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	defer sink.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("sink: %q", lines.Text())
	}
	for i, ns := range workers {
		out, err := helper(ns, "dial 198.18.0.1:2525").Output()
		want := "hello " + addrs[i] + "\n"
		if err != nil || string(out) != want {
			t.Errorf("%s: %q, %v; want %q", ns, out, err, want)
		}
		if !lines.Scan() || lines.Text() != "from "+addrs[i] {
			t.Errorf("sink saw %q, want from %s", lines.Text(),
				addrs[i])
		}
	}
	sink.Wait()

	// Beyond the test network there is no route: the dial fails at
	// once, without a packet sent.
	out, _ := helper(workers[0], "dial 198.18.1.1:25").Output()
	if !strings.Contains(string(out), "network is unreachable") {
		t.Errorf("dial out of the test network: %q", out)
	}
}

// TestTopologyCheck checks that the isolation assertion catches a
// default route, and that down removes everything.
func TestTopologyCheck(t *testing.T) {
	needNetns(t)
	v := up(t, 1)
	run, w0 := v["RUN"], v["WORKER_NS"]
	if out, err := topology("check", run, "1"); err != nil {
		t.Fatalf("check: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "-n", w0, "route", "add", "default",
		"via", "198.18.0.1").CombinedOutput(); err != nil {
		t.Fatalf("adding a route: %v: %s", err, out)
	}
	out, err := topology("check", run, "1")
	if err == nil || !strings.Contains(out, "default route") {
		t.Errorf("check with a default route: %v, %q", err, out)
	}

	if out, err := topology("down", run); err != nil {
		t.Fatalf("down: %v: %s", err, out)
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(list), run) {
		t.Errorf("namespaces left: %s", list)
	}
	if exec.Command("ip", "link", "show", "lt"+run).Run() == nil {
		t.Errorf("bridge lt%s left", run)
	}
}

// TestTopologyRefuses checks the arguments topology.sh refuses.
func TestTopologyRefuses(t *testing.T) {
	needNetns(t)
	for _, args := range [][]string{
		{"up", "0"}, {"up", "65"}, {"up", "x"}, {"up", "2", "Bad"},
		{"up", "2", "toolongrun"}, {"down"}, {"sideways", "1"},
	} {
		if out, err := topology(args...); err == nil {
			t.Errorf("%q: no error: %s", args, out)
		}
	}
}
