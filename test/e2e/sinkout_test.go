package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// The sink's --out: go-smtp-sink as a process of its own receives
// stamped messages straight from go-smtp-source, writes its result when
// stopped with SIGTERM, and the report pairs it with the source's.
func TestSinkResultFile(t *testing.T) {
	const n = 300
	src := postfixtest.GoBuild(t, "./cmd/go-smtp-source")
	snk := postfixtest.GoBuild(t, "./cmd/go-smtp-sink")
	dir := t.TempDir()
	sinkOut := filepath.Join(dir, "sink.json")
	srcOut := filepath.Join(dir, "source.json")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sink := exec.Command(snk, "--no-summary", "--out", sinkOut, addr,
		"100")
	var sinkErr bytes.Buffer
	sink.Stderr = &sinkErr
	if err := sink.Start(); err != nil {
		t.Fatal(err)
	}
	defer sink.Process.Kill()
	waitListening(t, addr)

	send := exec.Command(src, "--unique-headers", "--run-id", "out1",
		"--out", srcOut, "--no-summary", "-s", "5", "-d", "-m", strconv.Itoa(n),
		addr)
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("source: %v\n%s", err, out)
	}

	sink.Process.Signal(syscall.SIGTERM)
	if err := sink.Wait(); err != nil {
		t.Fatalf("sink: %v\n%s", err, sinkErr.String())
	}
	f, err := os.Open(sinkOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := metrics.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Delivery
	if d == nil || d.Arrived != n || d.Distinct != n ||
		d.Duplicated != 0 || d.Latency.Count != n {
		t.Fatalf("sink result delivery %+v, want %d arrived once each",
			d, n)
	}

	rep := exec.Command(src, "report", "--format", "json", srcOut,
		sinkOut)
	out, err := rep.Output()
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	var sum struct {
		Delivery struct {
			Sent, Arrived, Lost, Duplicated int64
		}
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatal(err)
	}
	if got := sum.Delivery; got.Sent != n || got.Arrived != n ||
		got.Lost != 0 || got.Duplicated != 0 {
		t.Errorf("report delivery %+v, want %d sent and arrived, "+
			"none lost", got, n)
	}
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
