package main

import (
	"fmt"
	"log/slog"

	"github.com/go-smtp-source/go-smtp-source/internal/delivery"
)

// finishDelivery logs what --delivery saw and writes --out.
func finishDelivery(o *options, log *slog.Logger) error {
	tr := o.cfg.Delivery
	if tr == nil {
		return nil
	}
	res := tr.Result()
	if !o.noSum {
		log.Info("delivery: " + deliverySummary(tr))
	}
	if o.out == "" {
		return nil
	}
	return res.WriteFile(o.out)
}

// deliverySummary is the delivery line of the exit summary.
func deliverySummary(tr *delivery.Tracker) string {
	d := tr.Delivery()
	return fmt.Sprintf("run=%s arrived=%d distinct=%d duplicated=%d"+
		" out-of-order=%d foreign=%d unstamped=%d p50=%v p99=%v max=%v",
		tr.RunID(), d.Arrived, d.Distinct, d.Duplicated, d.OutOfOrder,
		d.Foreign, d.Unstamped, d.Latency.ValueAt(50),
		d.Latency.ValueAt(99), d.Latency.ValueAt(100))
}
