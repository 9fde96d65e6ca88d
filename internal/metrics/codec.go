package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Times holds a run's wall-clock times, in nanoseconds since the Unix
// epoch. In JSON each is written twice: as RFC 3339 text in UTC with
// nanoseconds ("start") and as a number ("start_ns").
type Times struct {
	PlannedStartNS int64 // the scheduled start (--start-at), 0 if none
	StartNS        int64 // the actual start
	EndNS          int64
	Complete       bool // false when the run was stopped early
}

type timesJSON struct {
	PlannedStart   string `json:"planned_start,omitempty"`
	PlannedStartNS int64  `json:"planned_start_ns,omitempty"`
	Start          string `json:"start"`
	StartNS        int64  `json:"start_ns"`
	End            string `json:"end"`
	EndNS          int64  `json:"end_ns"`
	Complete       bool   `json:"complete"`
}

// MarshalJSON implements json.Marshaler.
func (t Times) MarshalJSON() ([]byte, error) {
	j := timesJSON{
		Start:    stamp(t.StartNS),
		StartNS:  t.StartNS,
		End:      stamp(t.EndNS),
		EndNS:    t.EndNS,
		Complete: t.Complete,
	}
	if t.PlannedStartNS != 0 {
		j.PlannedStart = stamp(t.PlannedStartNS)
		j.PlannedStartNS = t.PlannedStartNS
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler. The numbers are the data;
// the texts, when present, must agree with them.
func (t *Times) UnmarshalJSON(b []byte) error {
	var j timesJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		text string
		ns   int64
	}{
		{"planned_start", j.PlannedStart, j.PlannedStartNS},
		{"start", j.Start, j.StartNS},
		{"end", j.End, j.EndNS},
	} {
		if err := checkStamp(c.name, c.text, c.ns); err != nil {
			return err
		}
	}
	*t = Times{j.PlannedStartNS, j.StartNS, j.EndNS, j.Complete}
	return nil
}

func stamp(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

func checkStamp(name, text string, ns int64) error {
	if text == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return fmt.Errorf("time %s: %w", name, err)
	}
	if t.UnixNano() != ns || !t.Equal(time.Unix(0, ns)) {
		return fmt.Errorf("time %s %q disagrees with %s_ns %d",
			name, text, name, ns)
	}
	return nil
}

// ShardInfo places a result in a distributed run (--shard K/N). A merged
// result lists the shards it holds in Merged and is partial when some
// are missing.
type ShardInfo struct {
	Index  int    // this shard, 0 to Count-1; unused when Merged is set
	Count  int    // the number of shards in the run
	Key    string // --shard-key, if given; unused when Merged is set
	Merged []int  // shards of a merged result, ascending, at least 2
}

// Partial reports whether a merged result lacks some of the run's
// shards. A single shard's result is not partial.
func (s *ShardInfo) Partial() bool {
	return s.Merged != nil && len(s.Merged) < s.Count
}

// indexes returns the shards a result holds.
func (s *ShardInfo) indexes() []int {
	if s.Merged != nil {
		return s.Merged
	}
	return []int{s.Index}
}

type shardJSON struct {
	Index   *int   `json:"index,omitempty"`
	Count   int    `json:"count"`
	Key     string `json:"key,omitempty"`
	Merged  []int  `json:"merged,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

// MarshalJSON implements json.Marshaler: {"index", "count", "key"} for
// one shard, {"count", "merged", "partial"} for a merged result.
func (s ShardInfo) MarshalJSON() ([]byte, error) {
	if s.Merged != nil {
		return json.Marshal(shardJSON{
			Count:   s.Count,
			Merged:  s.Merged,
			Partial: s.Partial(),
		})
	}
	return json.Marshal(shardJSON{Index: &s.Index, Count: s.Count,
		Key: s.Key})
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *ShardInfo) UnmarshalJSON(b []byte) error {
	var j shardJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v := ShardInfo{Count: j.Count, Key: j.Key, Merged: j.Merged}
	if j.Index != nil {
		v.Index = *j.Index
	}
	if (j.Index == nil) == (j.Merged == nil) {
		return errors.New("shard: need either index or merged")
	}
	if err := v.check(); err != nil {
		return err
	}
	*s = v
	return nil
}

func (s *ShardInfo) check() error {
	if s.Count < 1 {
		return fmt.Errorf("shard: count %d is not positive", s.Count)
	}
	if s.Merged == nil {
		if s.Index < 0 || s.Index >= s.Count {
			return fmt.Errorf("shard: index %d is not in [0, %d)",
				s.Index, s.Count)
		}
		return nil
	}
	if len(s.Merged) < 2 || s.Key != "" {
		return errors.New("shard: a merged list holds 2 shards or more")
	}
	for i, k := range s.Merged {
		if k < 0 || k >= s.Count || (i > 0 && k <= s.Merged[i-1]) {
			return fmt.Errorf("shard: merged list %v is not ascending "+
				"in [0, %d)", s.Merged, s.Count)
		}
	}
	return nil
}

// Encode writes r as indented JSON, after recomputing its derived
// fields. The output depends only on r's data: maps are written in key
// order and nothing else has a free order.
func (r *Result) Encode(w io.Writer) error {
	r.finish()
	r.encodeHistograms()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return nil
}

// WriteFile writes the result document to a file at path, replacing
// what was there. Errors name the file.
func (r *Result) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := r.Encode(f); err != nil {
		f.Close()
		return fmt.Errorf("result: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("result: %s: %w", path, err)
	}
	return nil
}

// Decode reads one result document. It refuses any format other than
// Format, trailing data, and documents whose numbers disagree (a count
// that is not its histogram's, a negative counter, an end before the
// start...). Derived fields are recomputed, not trusted.
func Decode(rd io.Reader) (*Result, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}

	var probe struct {
		Format *string `json:"format"`
	}
	err = json.NewDecoder(bytes.NewReader(data)).Decode(&probe)
	if err != nil {
		return nil, fmt.Errorf("not a result document: %w", err)
	}
	if probe.Format == nil {
		return nil, errors.New("not a result document: no format")
	}
	if *probe.Format != Format {
		return nil, fmt.Errorf("unsupported result format %q (want %q)",
			*probe.Format, Format)
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep config numbers exact
	r := &Result{}
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode result: data after the document")
	}

	if err := r.load(); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	r.finish()
	return r, nil
}

// load checks a decoded result and decodes its histograms.
func (r *Result) load() error {
	if err := r.checkCounts(); err != nil {
		return err
	}
	if err := r.checkRuns(); err != nil {
		return err
	}
	if err := r.loadLatency(); err != nil {
		return err
	}
	if err := r.Delivery.load(r.Latency.Params); err != nil {
		return err
	}
	return r.loadSeries()
}

func (r *Result) checkCounts() error {
	m := r.Messages
	if err := nonNegative("messages", m.Accepted, m.TempFail,
		m.PermFail, m.Error, m.Unknown); err != nil {
		return err
	}
	if err := checkAttempted("messages", m); err != nil {
		return err
	}
	if err := nonNegative("counters", r.Recipients.Accepted,
		r.Recipients.Rejected, r.Sessions.Opened, r.Sessions.Done,
		r.Bytes.Out, r.Bytes.In, r.Schedule.Late,
		r.Schedule.Dropped); err != nil {
		return err
	}
	for name, m := range map[string]map[string]int64{
		"replies": r.Replies, "enhanced": r.Enhanced, "errors": r.Errors,
	} {
		for k, c := range m {
			if k == "" || c < 0 {
				return fmt.Errorf("%s: bad entry %q: %d", name, k, c)
			}
		}
	}
	return r.TLS.check()
}

func checkAttempted(what string, m Messages) error {
	sum := m
	sum.derive()
	if sum.Attempted != m.Attempted {
		return fmt.Errorf("%s: attempted %d is not the sum of the "+
			"outcomes, %d", what, m.Attempted, sum.Attempted)
	}
	return nil
}

func nonNegative(what string, vs ...int64) error {
	for _, v := range vs {
		if v < 0 {
			return fmt.Errorf("%s: negative count %d", what, v)
		}
	}
	return nil
}

// checkRuns checks the times, the shard and the sources.
func (r *Result) checkRuns() error {
	if r.Time.EndNS < r.Time.StartNS {
		return errors.New("time: end before start")
	}
	if len(r.Sources) == 1 {
		return errors.New("sources: a single run has no source list")
	}
	for _, s := range r.Sources {
		if s.EndNS < s.StartNS || s.Accepted < 0 {
			return fmt.Errorf("sources: bad source %+v", s)
		}
	}
	return nil
}

func (r *Result) loadLatency() error {
	if err := r.Latency.Params.check(); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	for name, l := range r.Latency.Phases {
		if _, ok := ParsePhase(name); !ok || l == nil {
			return fmt.Errorf("latency: unknown phase %q", name)
		}
		if err := loadDist(l, r.Latency.Params, true); err != nil {
			return fmt.Errorf("latency: %s: %w", name, err)
		}
	}
	return nil
}

func (r *Result) loadSeries() error {
	s := &r.Series
	if s.IntervalNS <= 0 {
		return errors.New("series: interval is not positive")
	}
	if err := s.HDR.check(); err != nil {
		return fmt.Errorf("series: %w", err)
	}
	for i, pt := range s.Points {
		if pt == nil || (i > 0 && pt.T <= s.Points[i-1].T) {
			return errors.New("series: points are not in time order")
		}
		if err := pt.load(s.HDR); err != nil {
			return fmt.Errorf("series: second %d: %w", pt.T, err)
		}
	}
	return nil
}

func (pt *Point) load(par Params) error {
	m := pt.Messages
	if err := nonNegative("messages", m.Accepted, m.TempFail,
		m.PermFail, m.Error, m.Unknown, pt.Late, pt.Dropped); err != nil {
		return err
	}
	if err := checkAttempted("messages", m); err != nil {
		return err
	}
	for name, pp := range pt.Phases {
		p, ok := ParsePhase(name)
		if !ok || pp == nil {
			return fmt.Errorf("unknown phase %q", name)
		}
		if err := loadDist(pp, par, seriesHist(p)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// check refuses histogram parameters this package cannot handle.
func (p Params) check() error {
	switch {
	case p.Unit != "ns":
		return fmt.Errorf("unit %q is not ns", p.Unit)
	case p.Encoding != Encoding:
		return fmt.Errorf("unknown histogram encoding %q", p.Encoding)
	case p.Lowest < 1 || p.Lowest > int64(time.Second),
		p.Highest < 2*p.Lowest || p.Highest > 1<<62,
		p.SigFigs < 1 || p.SigFigs > 5:
		return fmt.Errorf("bad histogram range %d..%d, %d digits",
			p.Lowest, p.Highest, p.SigFigs)
	}
	return nil
}

// loadDist checks a distribution's statistics and decodes its histogram,
// which must be present exactly when want is true and there are values.
func loadDist(d distribution, par Params, want bool) error {
	st, text := d.exact(), *d.encoded()
	switch {
	case st.n < 0:
		return fmt.Errorf("negative count %d", st.n)
	case st.n == 0 && (st.sum != 0 || st.min != 0 || st.max != 0):
		return errors.New("statistics without values")
	case st.n == 0 && text != "":
		return errors.New("histogram without values")
	case st.n > 0 && (st.min < 0 || st.min > st.max || st.sum < st.max):
		return fmt.Errorf("inconsistent statistics %+v", st)
	case !want && text != "":
		return errors.New("unexpected histogram")
	case st.n == 0 || !want:
		return nil
	}

	h, err := hdr.DecodePacked([]byte(text))
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if h.LowestTrackableValue() != par.Lowest ||
		h.HighestTrackableValue() != par.Highest ||
		h.SignificantFigures() != int64(par.SigFigs) {
		return errors.New("histogram parameters differ from the " +
			"document's")
	}
	if h.TotalCount() != st.n {
		return fmt.Errorf("histogram holds %d values, count is %d",
			h.TotalCount(), st.n)
	}
	*d.histogram() = h
	return nil
}
