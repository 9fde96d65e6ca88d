// Package metrics measures a run of go-smtp-source: it turns the engine's
// events (one per SMTP step, message and session) into HdrHistogram
// latency distributions, counters and a per-second series, and writes
// them as a versioned, exactly mergeable result document.
//
// # Recording
//
// A [Recorder] holds the run totals. Each session goroutine takes its
// own [Shard] with [Recorder.NewShard] and records into it; a shard has
// its own mutex, so recording never contends with other sessions and
// never allocates once warm. Once a second [Recorder.Tick] (or the
// goroutine of [Recorder.Start]) moves every shard's data into the run
// totals and appends one point to the per-second series.
//
// # Units and precision
//
// Latencies are recorded in nanoseconds. Run histograms keep 3
// significant digits (a value is known to within 0.1%) from 1 ns to 24
// hours; larger values are counted at 24 hours, while the exact count,
// sum, minimum and maximum are kept beside every histogram. Per-second
// histograms keep 2 significant digits (1%).
//
// # The result document
//
// [Result] is the JSON document written by --out, format
// "go-smtp-source-result/1". Histograms are stored in the standard
// HdrHistogram V2 compressed encoding (base64), which any HdrHistogram
// implementation reads and which merges without loss. [Merge] combines
// results: counters are summed, histograms merged, minima and maxima
// kept, time windows united, series aligned by absolute second; merging
// in any order gives the same bytes. In outline:
//
//	{
//	  "format": "go-smtp-source-result/1",
//	  "tool": {"version": "v0.4.0", "go": "go1.26.8"},
//	  "run_id": "r1", "config_hash": "sha256:...",   (optional)
//	  "config": {"target": "mx.test:25", ...},        (optional)
//	  "shard": {"index": 2, "count": 8, "key": "w2"}, (optional)
//	  "host": {"hostname": "gen-2"},                  (optional)
//	  "time": {"planned_start": "...", "start": "2026-12-03T16:00:00Z",
//	           "start_ns": ..., "end": "...", "end_ns": ...,
//	           "complete": true},
//	  "sources": [...],                 (merged results: one per run)
//	  "elapsed_ns": ..., "rate_per_s": ...,
//	  "messages": {"attempted", "accepted", "tempfail", "permfail",
//	               "error", "unknown"},
//	  "recipients": {...}, "sessions": {...}, "bytes": {...},
//	  "schedule": {"late", "dropped"},
//	  "replies": {"MAIL 250": n}, "enhanced": {"2.1.0": n},
//	  "errors": {"CONNECT refused": n},
//	  "latency": {"unit": "ns", "lowest", "highest", "sigfigs",
//	              "encoding", "phases": {"connect": {"count", "sum_ns",
//	              "min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns",
//	              "p999_ns", "max_ns", "hdr"}, ...}},
//	  "series": {"interval_ns", "hdr": {...}, "points": [{"t",
//	             "messages", "late", "dropped", "phases": {...}}]}
//	}
//
// Only the transaction phases carry a histogram in each second of the
// series (the others have count, sum, minimum and maximum), which keeps
// a point near 2 KB at a thousand messages a second.
//
// # Live metrics
//
// [Recorder.Register] exposes the totals to Prometheus; histogram
// buckets are derived from the HdrHistograms when scraped, so recording
// costs nothing extra.
package metrics
