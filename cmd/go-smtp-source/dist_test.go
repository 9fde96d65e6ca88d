package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
)

func TestParseDistribution(t *testing.T) {
	saved := getenv
	getenv = func(k string) string {
		return map[string]string{"SLURM_PROCID": "2",
			"SLURM_STEP_NUM_TASKS": "3"}[k]
	}
	t.Cleanup(func() { getenv = saved })

	cases := []struct {
		args      []string
		spec      shard.Spec
		delay     time.Duration
		wantStart bool
	}{
		{[]string{"--shard", "1/4", "-s", "4", "--run-id", "r"},
			shard.Spec{Index: 1, Count: 4}, time.Second, false},
		{[]string{"--shard=auto", "-s", "3", "--run-id", "r"},
			shard.Spec{Index: 2, Count: 3}, time.Second, false},
		{[]string{"--shard-keys", "a,b", "--shard-key", "b.example",
			"-s", "2", "--run-id", "r"},
			shard.Spec{Index: 1, Count: 2, Key: "b.example"},
			time.Second, false},
		{[]string{"--start-at", "+1h", "--max-start-delay", "5s"},
			shard.Spec{}, 5 * time.Second, true},
	}
	for _, c := range cases {
		o, err := parseArgs(prog, append(c.args, "h"))
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if o.dist.spec != c.spec || o.dist.maxStartDelay != c.delay ||
			o.dist.startAt.IsZero() == c.wantStart {
			t.Errorf("%q: got %+v", c.args, o.dist)
		}
	}
}

func TestBadDistribution(t *testing.T) {
	cases := []struct {
		args []string
		has  string
	}{
		{[]string{"--shard", "0/2", "-s", "2"}, "needs --run-id"},
		{[]string{"--shard", "1/4", "--run-id", "r"},
			"-s 1 is less than the 4 shards"},
		{[]string{"--shard", "4/4", "--run-id", "r"}, "not below"},
		{[]string{"--shard", "0/1", "--shard-key", "a", "--run-id",
			"r"}, "exclude each other"},
		{[]string{"--start-at", "tomorrow"}, "bad --start-at"},
		{[]string{"--max-start-delay", "1s"}, "needs --start-at"},
		{[]string{"--start-at", "+1s", "--max-start-delay", "x"},
			"bad --max-start-delay"},
		{[]string{"--start-at", "+1s", "--max-start-delay", "0"},
			"want a positive duration"},
	}
	for _, c := range cases {
		_, err := parseArgs(prog, append(c.args, "h"))
		if err == nil || !strings.Contains(err.Error(), c.has) {
			t.Errorf("%q: error %v, want one with %q", c.args, err,
				c.has)
		}
	}
}

// TestLateStart: a shard past --start-at + --max-start-delay exits 3
// with one fatal line and does not connect.
func TestLateStart(t *testing.T) {
	srv, addr := startTestSink(t)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	r := runCmd(t, "--shard", "0/2", "-s", "2", "--run-id", "r1",
		"--start-at", past, "--out", "-", addr)
	if r.code != shard.ExitLate {
		t.Errorf("exit %d, want %d:\n%s", r.code, shard.ExitLate,
			r.stderr)
	}
	if d := r.diagnostics(fatalPrefix); len(d) != 1 ||
		!strings.Contains(d[0], "missed the start time") {
		t.Errorf("fatal lines %q", d)
	}
	if r.stdout != "" {
		t.Errorf("a late shard wrote a result: %q", r.stdout)
	}
	if st := srv.Stats(); st.Sessions+st.Active != 0 {
		t.Errorf("a late shard connected: %+v", st)
	}
}

// TestShardResult: shards started together write framed results that
// name the run, the shard, the config hash and the planned start, and
// split -m as the partition says.
func TestShardResult(t *testing.T) {
	srv, addr := startTestSink(t)
	at := time.Now().Add(300 * time.Millisecond).UTC().
		Format(time.RFC3339Nano)
	var all bytes.Buffer
	for k := range 3 {
		r := runCmd(t, "--shard", string(rune('0'+k))+"/3", "--run-id",
			"r2", "--start-at", at, "--max-start-delay", "10s", "--out",
			"-", "-s", "3", "-m", "10", "-d", addr)
		if r.code != 0 {
			t.Fatalf("shard %d: exit %d:\n%s", k, r.code, r.stderr)
		}
		all.WriteString(r.stdout)
	}
	docs, err := frame.Collect(&all)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3", len(docs))
	}
	var sum int64
	hash := ""
	for k, data := range docs {
		res, err := metrics.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want := shard.Spec{Index: k.Index, Count: 3}.Messages(10)
		switch {
		case k.RunID != "r2" || res.RunID != "r2":
			t.Errorf("run ids %q %q", k.RunID, res.RunID)
		case res.Shard == nil || res.Shard.Index != k.Index:
			t.Errorf("shard %v: %+v", k, res.Shard)
		case res.Messages.Accepted != want:
			t.Errorf("shard %v accepted %d, want %d", k,
				res.Messages.Accepted, want)
		case res.Time.PlannedStartNS == 0 ||
			res.Time.StartNS < res.Time.PlannedStartNS:
			t.Errorf("shard %v: times %+v", k, res.Time)
		case !res.Time.Complete:
			t.Errorf("shard %v: not complete", k)
		case hash != "" && res.ConfigHash != hash:
			t.Errorf("config hashes %q and %q", hash, res.ConfigHash)
		}
		hash = res.ConfigHash
		sum += res.Messages.Accepted
	}
	if st := srv.Stats(); sum != 10 || st.Messages != 10 ||
		!strings.HasPrefix(hash, "sha256:") {
		t.Errorf("accepted %d, sink %d, hash %q; want 10", sum,
			st.Messages, hash)
	}
}

// TestMergeDispatch: "merge" runs the merge subcommand.
func TestMergeDispatch(t *testing.T) {
	r := runCmd(t, "merge", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "merge") {
		t.Errorf("merge --help: exit %d: %q %q", r.code, r.stdout,
			r.stderr)
	}
}

// signalWhen sends SIGTERM to this process once the sink has seen n
// messages, twice when twice is set, and returns at once.
func signalWhen(t *testing.T, messages func() int64, n int64,
	twice bool) {

	t.Helper()
	go func() {
		for messages() < n {
			time.Sleep(10 * time.Millisecond)
		}
		syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		if twice {
			time.Sleep(100 * time.Millisecond)
			syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		}
	}()
}

// TestTerminate: SIGTERM mid-run stops new transactions, finishes the
// ones in flight, writes a partial result and exits 4; a second SIGTERM
// cuts the ones in flight short and counts them unknown.
func TestTerminate(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay string
		twice bool
	}{
		{"drain", "300ms", false},
		{"second signal", "10s", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, addr := startTestSink(t, ".:100%:delay="+c.delay)
			out := filepath.Join(t.TempDir(), "r.json")
			signalWhen(t, func() int64 { return srv.Stats().Messages },
				4, c.twice)
			r := runCmd(t, "--out", out, "-s", "4", "-d", "-m", "1000",
				addr)
			if r.code != shard.ExitTerminated {
				t.Fatalf("exit %d, want %d:\n%s", r.code,
					shard.ExitTerminated, r.stderr)
			}
			res := readResult(t, out)
			sunk := srv.Stats().Messages
			m := res.Messages
			if res.Time.Complete || m.Attempted >= 1000 ||
				sunk-m.Accepted > m.Unknown {
				t.Errorf("complete=%v, sink got %d, result %+v",
					res.Time.Complete, sunk, m)
			}
			if c.twice && m.Unknown == 0 {
				t.Errorf("no message in flight counted unknown: %+v", m)
			}
			if !c.twice && m.Accepted != sunk {
				t.Errorf("accepted %d, sink got %d: in-flight "+
					"transactions not finished", m.Accepted, sunk)
			}
		})
	}
}

// get fetches url and returns the status code and body, or 0.
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestEndpointBeforeAndAfter: the metrics endpoint is ready during the
// lead to --start-at (metrics 503 then), and --linger serves the final
// metrics, labelled with the run and the shard, after the run.
func TestEndpointBeforeAndAfter(t *testing.T) {
	_, addr := startTestSink(t)
	maddr := closedPort(t)
	done := make(chan result, 1)
	go func() {
		done <- runCmd(t, "--shard", "0/1", "--run-id", "r3",
			"--start-at", "+700ms", "--metrics-addr", maddr, "--linger",
			"1s", "--no-summary", "-m", "3", addr)
	}()
	base := "http://" + maddr
	ready := 0
	for range 50 {
		if ready, _ = get(base + "/readyz"); ready == 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get(base + "/metrics"); ready != 200 || code != 503 {
		t.Errorf("before the start: readyz %d, metrics %d; want 200, "+
			"503", ready, code)
	}
	time.Sleep(time.Second) // started at 700 ms, ended, lingering
	code, body := get(base + "/metrics")
	want := `gosmtpsource_messages_total{result="accepted",run_id="r3",` +
		`shard="0"} 3`
	if code != 200 || !strings.Contains(body, want) {
		t.Errorf("lingering: %d, no %s in:\n%s", code, want, body)
	}
	if r := <-done; r.code != 0 || r.elapsed < 1500*time.Millisecond {
		t.Errorf("exit %d after %v:\n%s", r.code, r.elapsed, r.stderr)
	}
}

// TestTerminateBeforeStart: a signal during the wait for --start-at
// ends the shard at once with status 4, having connected nowhere.
func TestTerminateBeforeStart(t *testing.T) {
	srv, addr := startTestSink(t)
	watching = func() {
		time.AfterFunc(200*time.Millisecond, func() {
			syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		})
	}
	t.Cleanup(func() { watching = func() {} })
	r := runCmd(t, "--start-at", "+5s", "--out", "-", addr)
	if r.code != shard.ExitTerminated || r.elapsed > 2*time.Second ||
		r.stdout != "" {
		t.Errorf("exit %d after %v, stdout %q:\n%s", r.code, r.elapsed,
			r.stdout, r.stderr)
	}
	if st := srv.Stats(); st.Sessions+st.Active != 0 {
		t.Errorf("connected before the start: %+v", st)
	}
}

// TestTerminateAwaitingBanner: one SIGTERM while every session waits for
// a silent server's greeting ends the run at once, with status 4: there
// is no transaction in flight to wait for, and the messages the sessions
// held count as not attempted rather than as errors.
func TestTerminateAwaitingBanner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never greeted
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	watching = func() {
		time.AfterFunc(300*time.Millisecond, func() {
			syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
		})
	}
	t.Cleanup(func() { watching = func() {} })

	out := filepath.Join(t.TempDir(), "r.json")
	r := runCmd(t, "--out", out, "-s", "2", "-m", "5", ln.Addr().String())
	if r.code != shard.ExitTerminated || r.elapsed > 3*time.Second {
		t.Fatalf("exit %d after %v, want %d at once:\n%s", r.code,
			r.elapsed, shard.ExitTerminated, r.stderr)
	}
	res := readResult(t, out)
	if m := res.Messages; m.Attempted != 0 || len(res.Errors) != 0 {
		t.Errorf("messages %+v, errors %v; want none attempted", m,
			res.Errors)
	}
}
