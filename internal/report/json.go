package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// JSON writes the summary of r (see Summary) as indented JSON, format
// Format. Every phase is present under "phases", with zeros for the
// phases that were not seen; the per-second series has each second's
// counts and per-phase statistics, without histograms. r must come
// from metrics.Decode, metrics.Merge or Recorder.Result.
func JSON(w io.Writer, r *metrics.Result) error {
	return writeJSON(w, Summarize(r))
}

func writeJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
