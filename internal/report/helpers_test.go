package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// t0 is when the synthetic runs start.
var t0 = time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)

var (
	enh200 = metrics.ParseEnhanced("2.0.0")
	enh210 = metrics.ParseEnhanced("2.1.0")
	enh215 = metrics.ParseEnhanced("2.1.5")
	enh422 = metrics.ParseEnhanced("4.2.2")
	enh511 = metrics.ParseEnhanced("5.1.1")
)

// us returns n microseconds.
func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

// session records one session of one message into sh; i varies the
// latencies and, every so often, the outcome: every 25th recipient is
// deferred (450 4.2.2), every 40th refused (550 5.1.1).
func session(sh *metrics.Shard, i int) {
	sh.SessionOpened()
	sh.Step(metrics.Connect, us(100+i%50), 0, 0)
	sh.Step(metrics.Banner, us(300+i%70), 220, 0)
	sh.Step(metrics.Helo, us(200+i%30), 250, 0)
	sh.Step(metrics.Mail, us(400+i%90), 250, enh210)
	tx := us(400 + i%90 + 500 + i%110)
	switch {
	case i%25 == 24:
		sh.Step(metrics.Rcpt, us(500+i%110), 450, enh422)
		sh.Recipients(0, 1)
		sh.Message(metrics.TempFail, tx, 0)
	case i%40 == 39:
		sh.Step(metrics.Rcpt, us(500+i%110), 550, enh511)
		sh.Recipients(0, 1)
		sh.Message(metrics.PermFail, tx, 0)
	default:
		sh.Step(metrics.Rcpt, us(500+i%110), 250, enh215)
		sh.Recipients(1, 0)
		sh.Step(metrics.Data, us(300+i%40), 354, 0)
		sh.Step(metrics.EOD, us(2000+(i*37)%3000), 250, enh200)
		tx += us(300 + i%40 + 2000 + (i*37)%3000)
		sh.Message(metrics.Accepted, tx, 0)
	}
	sh.Step(metrics.Quit, us(150+i%20), 221, enh200)
	sh.Bytes(1500, 320)
	sh.SessionDone(tx + us(1500))
}

// typicalRun is a run of secs seconds with perSec sessions a second,
// one message each, against mx.test:25.
func typicalRun(secs, perSec int) *metrics.Result {
	rec := metrics.New(t0)
	sh := rec.NewShard()
	for s := range secs {
		for i := range perSec {
			session(sh, s*perSec+i)
		}
		rec.Tick(t0.Add(time.Duration(s+1) * time.Second))
	}
	r := rec.Result()
	r.Config = map[string]any{"target": "mx.test:25"}
	return r
}

// troubledRun is a run that went badly: refused connections, timeouts,
// late and dropped sends (an open-model run, so with latencies from the
// intended start), STARTTLS, and stopped early.
func troubledRun() *metrics.Result {
	rec := metrics.New(t0)
	sh := rec.NewShard()
	for i := range 40 {
		if i%10 == 3 {
			sh.Fail(metrics.Connect, metrics.KindRefused)
			sh.Message(metrics.Error, 0, 0)
			sh.Dropped()
			continue
		}
		sh.SessionOpened()
		sh.Step(metrics.Connect, us(900+i), 0, 0)
		sh.Step(metrics.Banner, us(1200+i), 220, 0)
		sh.Step(metrics.Helo, us(400+i), 250, 0)
		sh.Step(metrics.StartTLS, us(5000+10*i), 220, 0)
		sh.Step(metrics.Mail, us(700+i), 250, enh210)
		sh.Step(metrics.Rcpt, us(800+i), 250, enh215)
		sh.Step(metrics.Data, us(600+i), 354, 0)
		if i%10 == 7 {
			sh.Fail(metrics.EOD, metrics.KindTimeout)
			sh.Message(metrics.Unknown, 0, 0)
			sh.Late()
		} else {
			sh.Step(metrics.EOD, us(30000+1000*i), 250, enh200)
			tx := us(700 + 800 + 600 + 30000 + 1000*i + 3*i)
			sh.Message(metrics.Accepted, tx, tx+us(5000*(i%4)))
		}
		sh.Bytes(2500, 400)
		sh.SessionDone(us(60000 + 1000*i))
		if i%20 == 19 {
			rec.Tick(t0.Add(time.Duration(i/20+1) * time.Second))
		}
	}
	r := rec.Result()
	r.Config = map[string]any{"target": "[192.0.2.7]:2525"}
	r.Time.Complete = false
	return r
}

// shardRun is shard k of 4 of a run, started start after t0.
func shardRun(t *testing.T, k int, start time.Duration) *metrics.Result {
	t.Helper()
	rec := metrics.New(t0.Add(start))
	sh := rec.NewShard()
	for i := range 50 {
		session(sh, 1000*k+i)
	}
	rec.Tick(t0.Add(start + time.Second))
	r := rec.Result()
	r.RunID = "r-20261203"
	r.Shard = &metrics.ShardInfo{Index: k, Count: 4}
	r.Host = &metrics.Host{Hostname: "gen-" + string(rune('a'+k))}
	r.Config = map[string]any{"target": "mx.test:25"}
	return roundTrip(t, r)
}

// emptyRun is a run that sent nothing in one second.
func emptyRun() *metrics.Result {
	rec := metrics.New(t0)
	rec.Tick(t0.Add(time.Second))
	return rec.Result()
}

// roundTrip encodes and decodes r, as a result file does.
func roundTrip(t *testing.T, r *metrics.Result) *metrics.Result {
	t.Helper()
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		t.Fatal(err)
	}
	out, err := metrics.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeResult writes r to a file in dir and returns its name.
func writeResult(t *testing.T, dir, name string, r *metrics.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
