// Package report turns a run's result document ([metrics.Result]) into
// something to read: a compact text table ([Text], also the end-of-run
// summary of go-smtp-source), a JSON summary ([JSON]) and a
// self-contained HTML page with inline SVG charts ([HTML]). [Main] is
// the "go-smtp-source report" subcommand, which reads one or more
// result files, merges them exactly ([metrics.Merge]) and prints one of
// those.
//
// All three formats are views of one [Summary], built by [Summarize],
// so they never disagree. Durations in JSON are integer nanoseconds;
// in text and HTML they are written with four significant digits
// ("1.234ms").
package report
