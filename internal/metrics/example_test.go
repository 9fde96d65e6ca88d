package metrics_test

import (
	"fmt"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

func Example() {
	start := time.Unix(1_764_777_600, 0)
	rec := metrics.New(start)

	// Each session records into its own shard.
	s := rec.NewShard()
	s.SessionOpened()
	s.Step(metrics.Connect, 300*time.Microsecond, 0, 0)
	s.Step(metrics.Mail, 2*time.Millisecond, 250,
		metrics.ParseEnhanced("2.1.0 Ok"))
	s.Step(metrics.Rcpt, 3*time.Millisecond, 550,
		metrics.ParseEnhanced("5.1.1 no such user"))
	s.Recipients(0, 1)
	s.Message(metrics.PermFail, 5*time.Millisecond, 0)
	s.SessionDone(8 * time.Millisecond)

	// Once a second, usually through Start.
	rec.Tick(start.Add(time.Second))

	res := rec.Result()
	rcpt := res.Phase(metrics.Rcpt)
	fmt.Println(res.Messages.PermFail, res.Replies["RCPT 550"],
		res.Enhanced["5.1.1"], rcpt.Count, time.Duration(rcpt.MaxNS))
	// Output: 1 1 1 1 3ms
}
