package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

func TestProgressLine(t *testing.T) {
	p := metrics.Progress{Attempted: 250, Accepted: 240, Failed: 7,
		Errors: 3, Rate: 50}
	o := &options{messages: 1000}
	got := progressLine(p, o, 5*time.Second)
	want := "250/1000  50 msg/s  accepted 240  failed 7  errors 3  ETA 15s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	o = &options{duration: time.Minute}
	p.Late, p.Dropped = 4, 1
	got = progressLine(p, o, 20*time.Second)
	want = "20s/1m0s  50 msg/s  accepted 240  failed 7  errors 3" +
		"  late 4  dropped 1  ETA 40s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// On a terminal the progress line is redrawn; into a pipe or file there
// is none of it. script(1) gives the command a real terminal.
func TestProgressOnlyOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to run the command on a terminal")
	}
	bin := postfixtest.GoBuild(t, "./cmd/go-smtp-source")
	args := bin + " --rate 100/s -m 120 -s 4 sink:"

	tty, err := exec.Command(script, "-qfec", args, "/dev/null").Output()
	if err != nil {
		t.Fatalf("on a terminal: %v\n%s", err, tty)
	}
	if !bytes.Contains(tty, []byte("\r\x1b[K")) ||
		!bytes.Contains(tty, []byte("msg/s  accepted")) {
		t.Errorf("no progress line on a terminal:\n%q", tty)
	}

	cmd := exec.Command(bin, strings.Fields(args)[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("into a pipe: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress written into a pipe:\n%q", stderr.String())
	}
}

// While a run goes on, /metrics serves its counters for Prometheus.
func TestMetricsEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--metrics-addr", addr, "--rate", "40/s",
			"-m", "120", "sink:"}, io.Discard, io.Discard)
	}()

	deadline := time.Now().Add(5 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		body = scrape(addr)
		// Counters are there from the start, at zero; histograms come
		// with the first tick that saw a step.
		if strings.Contains(body, "phase_duration_seconds_bucket") {
			break
		}
	}
	if !strings.Contains(body, `gosmtpsource_messages_total{result="accepted"}`) ||
		strings.Contains(body,
			`gosmtpsource_messages_total{result="accepted"} 0`+"\n") {
		t.Errorf("no accepted messages counted in /metrics:\n%s", body)
	}
	if !strings.Contains(body, "gosmtpsource_phase_duration_seconds") {
		t.Errorf("no phase histograms in /metrics")
	}
	if code := <-done; code != 0 {
		t.Errorf("run: exit %d", code)
	}
}

func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
