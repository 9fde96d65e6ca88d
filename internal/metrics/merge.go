package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Merge combines results into one, exactly: counters are summed,
// histograms merged bucket by bucket, minima and maxima kept, the time
// window is the union of the inputs' (so the rate is accepted messages
// over that union), and series points are added up second by second.
// The result is the same, to the byte once encoded, for any order of
// the inputs, and merging merged results gives what merging their
// inputs at once gives.
//
// Merge refuses to mix results of different runs: their run ids, config
// hashes, histogram parameters and shard counts must be equal, and no
// shard may appear twice. A merge that lacks some shards of a run is
// marked partial (see ShardInfo.Partial); whether to accept it is the
// caller's choice. The inputs are not modified.
func Merge(results ...*Result) (*Result, error) {
	if err := compatible(results); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	first := results[0]

	out := newResult()
	out.Latency.Params = first.Latency.Params
	out.Series.HDR = first.Series.HDR
	out.Series.IntervalNS = first.Series.IntervalNS
	out.RunID, out.ConfigHash = first.RunID, first.ConfigHash
	out.Tool = mergeTools(results)
	out.Config = commonConfig(results)
	out.Shard = mergeShards(results)
	out.Time = mergeTimes(results)
	out.Sources = mergeSources(results)
	if out.Sources == nil && first.Host != nil {
		h := *first.Host
		out.Host = &h
	}

	var s summer
	for _, r := range results {
		s.result(out, r)
	}
	if s.err != nil {
		return nil, fmt.Errorf("merge: %w", s.err)
	}
	out.Series.Points = mergeSeries(results, &s)
	if s.err != nil {
		return nil, fmt.Errorf("merge: %w", s.err)
	}
	out.finish()
	return out, nil
}

// compatible checks that results may be merged.
func compatible(results []*Result) error {
	if len(results) == 0 {
		return errors.New("no results")
	}
	if slices.Contains(results, nil) {
		return errors.New("nil result")
	}
	a := results[0]
	for _, b := range results[1:] {
		if err := compatiblePair(a, b); err != nil {
			return err
		}
	}
	if err := distinctShards(results); err != nil {
		return err
	}
	return distinctSources(results)
}

// distinctSources refuses a result given twice, or given again inside
// a merged one: its messages would be counted twice. A run is known by
// its host, its start and end to the nanosecond and its count of
// accepted messages, which two runs never all share.
func distinctSources(results []*Result) error {
	type key struct {
		host                 string
		start, end, accepted int64
	}
	seen := map[key]bool{}
	for _, r := range results {
		srcs := r.Sources
		if len(srcs) == 0 {
			srcs = []Source{sourceOf(r)}
		}
		for _, src := range srcs {
			if src.Shard != nil {
				continue // distinctShards's
			}
			k := key{start: src.StartNS, end: src.EndNS,
				accepted: src.Accepted}
			if src.Host != nil {
				k.host = src.Host.Hostname
			}
			if seen[k] {
				return fmt.Errorf("the same result is given twice "+
					"(the run of %s that started %s)", hostName(k.host),
					time.Unix(0, k.start).UTC().Format(time.RFC3339Nano))
			}
			seen[k] = true
		}
	}
	return nil
}

// hostName names a host for a message.
func hostName(h string) string {
	if h == "" {
		return "an unnamed host"
	}
	return h
}

func compatiblePair(a, b *Result) error {
	switch {
	case a.receiver() != b.receiver():
		return errors.New("a sink's result and a source's cannot be " +
			"merged; give both to report, which pairs them")
	case a.Format != b.Format:
		return fmt.Errorf("formats differ: %q and %q", a.Format, b.Format)
	case a.RunID != b.RunID:
		return fmt.Errorf("run ids differ: %q and %q", a.RunID, b.RunID)
	case a.ConfigHash != b.ConfigHash:
		return fmt.Errorf("config hashes differ: %q and %q",
			a.ConfigHash, b.ConfigHash)
	case a.Latency.Params != b.Latency.Params:
		return fmt.Errorf("latency histogram parameters differ: "+
			"%+v and %+v", a.Latency.Params, b.Latency.Params)
	case a.Series.HDR != b.Series.HDR ||
		a.Series.IntervalNS != b.Series.IntervalNS:
		return errors.New("series parameters differ")
	case (a.Shard == nil) != (b.Shard == nil):
		return errors.New("cannot mix sharded and unsharded results")
	case a.Shard != nil && a.Shard.Count != b.Shard.Count:
		return fmt.Errorf("shard counts differ: %d and %d",
			a.Shard.Count, b.Shard.Count)
	}
	return nil
}

// distinctShards refuses a shard that appears in two inputs, whose
// messages would be counted twice.
func distinctShards(results []*Result) error {
	seen := map[int]bool{}
	for _, r := range results {
		if r.Shard == nil {
			continue
		}
		for _, k := range r.Shard.indexes() {
			if seen[k] {
				return fmt.Errorf("shard %d/%d appears twice", k,
					r.Shard.Count)
			}
			seen[k] = true
		}
	}
	return nil
}

// mergeTools keeps the tool when all inputs agree; sources name each
// input's version otherwise.
func mergeTools(results []*Result) Tool {
	t := results[0].Tool
	for _, r := range results[1:] {
		if r.Tool != t {
			return Tool{}
		}
	}
	return t
}

// commonConfig keeps the settings that every input has, with the same
// value.
func commonConfig(results []*Result) map[string]any {
	out := maps.Clone(results[0].Config)
	for _, r := range results[1:] {
		for k, v := range out {
			w, ok := r.Config[k]
			if !ok || !sameJSON(v, w) {
				delete(out, k)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func mergeShards(results []*Result) *ShardInfo {
	first := results[0].Shard
	if first == nil {
		return nil
	}
	var ks []int
	for _, r := range results {
		ks = append(ks, r.Shard.indexes()...)
	}
	if len(ks) == 1 {
		s := *first
		return &s
	}
	slices.Sort(ks)
	return &ShardInfo{Count: first.Count, Merged: ks}
}

// mergeTimes unites the inputs' windows. The planned start is the
// earliest one set; the result is complete when every input is.
func mergeTimes(results []*Result) Times {
	t := results[0].Time
	for _, r := range results[1:] {
		u := r.Time
		t.StartNS = min(t.StartNS, u.StartNS)
		t.EndNS = max(t.EndNS, u.EndNS)
		t.Complete = t.Complete && u.Complete
		if t.PlannedStartNS == 0 ||
			(u.PlannedStartNS != 0 && u.PlannedStartNS < t.PlannedStartNS) {
			t.PlannedStartNS = u.PlannedStartNS
		}
	}
	return t
}

// mergeSources lists the runs behind the inputs, or nothing when there
// is a single one.
func mergeSources(results []*Result) []Source {
	var out []Source
	for _, r := range results {
		if len(r.Sources) > 0 {
			out = append(out, r.Sources...)
			continue
		}
		out = append(out, sourceOf(r))
	}
	if len(out) < 2 {
		return nil
	}
	slices.SortFunc(out, compareSources)
	return out
}

func sourceOf(r *Result) Source {
	s := Source{
		Version:  r.Tool.Version,
		StartNS:  r.Time.StartNS,
		EndNS:    r.Time.EndNS,
		Accepted: r.Messages.Accepted,
		Complete: r.Time.Complete,
	}
	if r.Shard != nil && r.Shard.Merged == nil {
		sh := *r.Shard
		s.Shard = &sh
	}
	if r.Host != nil {
		h := *r.Host
		s.Host = &h
	}
	return s
}

// summer adds counts, remembering the first overflow.
type summer struct {
	err error
}

func (s *summer) add(dst *int64, v int64) {
	if v > 0 && *dst > math.MaxInt64-v {
		s.err = errors.New("a count overflows")
		return
	}
	*dst += v
}

// result adds r's counters, replies and latencies to out.
func (s *summer) result(out, r *Result) {
	s.messages(&out.Messages, r.Messages)
	for _, c := range []struct{ dst, v *int64 }{
		{&out.Recipients.Accepted, &r.Recipients.Accepted},
		{&out.Recipients.Rejected, &r.Recipients.Rejected},
		{&out.Sessions.Opened, &r.Sessions.Opened},
		{&out.Sessions.Done, &r.Sessions.Done},
		{&out.Bytes.Out, &r.Bytes.Out},
		{&out.Bytes.In, &r.Bytes.In},
		{&out.Schedule.Late, &r.Schedule.Late},
		{&out.Schedule.Dropped, &r.Schedule.Dropped},
	} {
		s.add(c.dst, *c.v)
	}
	s.counts(out.Replies, r.Replies)
	s.counts(out.Enhanced, r.Enhanced)
	s.counts(out.Errors, r.Errors)
	s.tls(out, r)
	s.delivery(out, r)

	for name, l := range r.Latency.Phases {
		if l == nil || l.Count == 0 {
			continue
		}
		dst := out.Latency.Phases[name]
		if dst == nil {
			dst = &Latency{}
			out.Latency.Phases[name] = dst
		}
		s.dist(dst, l)
	}
}

func (s *summer) messages(dst *Messages, m Messages) {
	s.add(&dst.Accepted, m.Accepted)
	s.add(&dst.TempFail, m.TempFail)
	s.add(&dst.PermFail, m.PermFail)
	s.add(&dst.Error, m.Error)
	s.add(&dst.Unknown, m.Unknown)
	dst.derive()
}

func (s *summer) counts(dst, src map[string]int64) {
	for k, v := range src {
		c := dst[k]
		s.add(&c, v)
		dst[k] = c
	}
}

// dist merges src's values into dst. A histogram that dst does not have
// yet is copied with its encoding; merged ones are encoded again later.
func (s *summer) dist(dst, src distribution) {
	a, b := dst.exact(), src.exact()
	if a.n > math.MaxInt64-b.n || a.sum > math.MaxInt64-b.sum {
		s.err = errors.New("a latency count or sum overflows")
		return
	}
	dst.setExact(a.merged(b))

	h := *src.histogram()
	if h == nil {
		return
	}
	dh := dst.histogram()
	if *dh == nil {
		*dh = h.Clone()
		*dst.encoded() = *src.encoded()
		return
	}
	if dropped := (*dh).Merge(h); dropped != 0 {
		s.err = fmt.Errorf("%d histogram values dropped", dropped)
	}
	*dst.encoded() = ""
}

// mergeSeries adds the inputs' points up by second.
func mergeSeries(results []*Result, s *summer) []*Point {
	bySecond := map[int64]*Point{}
	for _, r := range results {
		for _, pt := range r.Series.Points {
			dst := bySecond[pt.T]
			if dst == nil {
				bySecond[pt.T] = pt.clone()
				continue
			}
			s.point(dst, pt)
		}
	}

	out := make([]*Point, 0, len(bySecond))
	for _, t := range slices.Sorted(maps.Keys(bySecond)) {
		out = append(out, bySecond[t])
	}
	return out
}

func (s *summer) point(dst, pt *Point) {
	s.messages(&dst.Messages, pt.Messages)
	s.add(&dst.Late, pt.Late)
	s.add(&dst.Dropped, pt.Dropped)
	for name, pp := range pt.Phases {
		s.dist(dst.phase(name), pp)
	}
}
