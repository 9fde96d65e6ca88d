package merge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/frame"
	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
	"github.com/go-smtp-source/go-smtp-source/internal/shard"
)

// input is one result and where it came from, for messages.
type input struct {
	res  *metrics.Result
	from string
}

// read decodes the inputs: result files, or the results framed in
// logs. Documents that the logs hold only in part are fatal, or with
// --allow-partial left out with a warning.
func read(o *options, stdin io.Reader) ([]input, []string, error) {
	var (
		ins      []input
		warnings []string
		seen     = map[frame.Key][]byte{}
	)
	for _, name := range o.files {
		data, err := readFile(name, stdin)
		if err != nil {
			return nil, nil, err
		}
		if !o.fromLogs {
			in, err := decodeDoc(data, name, o.runID)
			if err != nil {
				return nil, nil, err
			}
			ins = append(ins, in)
			continue
		}
		got, warns, err := fromLogs(data, name, o, seen)
		if err != nil {
			return nil, nil, err
		}
		ins = append(ins, got...)
		warnings = append(warnings, warns...)
	}
	if len(ins) == 0 {
		what := "no result"
		if o.runID != "" {
			what += " of run " + o.runID
		}
		if o.fromLogs {
			what += " in the logs (no " + frame.Marker + " lines)"
		}
		return nil, nil, errors.New(what)
	}
	return ins, warnings, nil
}

func readFile(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		return data, nil
	}
	return os.ReadFile(name)
}

// decodeDoc decodes one result document read from name.
func decodeDoc(data []byte, name, runID string) (input, error) {
	if name == "-" {
		name = "stdin"
	}
	res, err := metrics.Decode(bytes.NewReader(data))
	if err != nil {
		return input{}, fmt.Errorf("%s: %w", name, err)
	}
	if runID != "" && res.RunID != runID {
		return input{}, fmt.Errorf("%s: result of run %q, not %q",
			name, res.RunID, runID)
	}
	return input{res: res, from: name}, nil
}

// fromLogs returns the results framed in one log file. seen holds the
// documents of the files read before: a document found again (the same
// pod's log twice) is skipped, a different one under the same key is
// refused.
func fromLogs(data []byte, name string, o *options,
	seen map[frame.Key][]byte) ([]input, []string, error) {

	if name == "-" {
		name = "stdin"
	}
	docs, err := frame.Collect(bytes.NewReader(data))
	var warnings []string
	var probs frame.Problems
	switch {
	case errors.As(err, &probs) && o.allowPartial:
		for _, k := range slices.SortedFunc(maps.Keys(probs),
			compareKeys) {
			if o.runID == "" || k.RunID == o.runID {
				warnings = append(warnings, fmt.Sprintf("%s: left "+
					"out: result %v: %v", name, k, probs[k]))
			}
		}
	case err != nil:
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}

	var ins []input
	for _, k := range slices.SortedFunc(maps.Keys(docs), compareKeys) {
		if o.runID != "" && k.RunID != o.runID {
			continue
		}
		if old, ok := seen[k]; ok {
			if !bytes.Equal(old, docs[k]) {
				return nil, nil, fmt.Errorf("%s: result %v differs "+
					"from one read before (did the shard run twice?)",
					name, k)
			}
			continue
		}
		seen[k] = docs[k]
		in, err := decodeDoc(docs[k], name+": result "+k.String(), "")
		if err != nil {
			return nil, nil, err
		}
		if err := matches(k, in.res); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", in.from, err)
		}
		ins = append(ins, in)
	}
	return ins, warnings, nil
}

func compareKeys(a, b frame.Key) int {
	return strings.Compare(a.String(), b.String())
}

// matches checks that a framed document is what its frames say.
func matches(k frame.Key, r *metrics.Result) error {
	s := r.Shard
	switch {
	case r.RunID != k.RunID:
		return fmt.Errorf("the frames say run %q, the document %q",
			k.RunID, r.RunID)
	case k.Count == 0 && s != nil, k.Count > 0 && (s == nil ||
		s.Merged != nil || s.Index != k.Index || s.Count != k.Count):
		return errors.New("the frames and the document name " +
			"different shards")
	}
	return nil
}

// mergeInputs checks that the inputs are the shards of one run, each
// once and (unless allowPartial) all of them, and merges them.
func mergeInputs(ins []input, allowPartial bool) (*metrics.Result,
	[]string, error) {

	if err := sameRun(ins); err != nil {
		return nil, nil, err
	}
	var warnings []string
	if ins[0].res.Shard != nil {
		missing, err := coverage(ins)
		if err != nil {
			return nil, nil, err
		}
		n := ins[0].res.Shard.Count
		if len(missing) > 0 {
			what := fmt.Sprintf("missing shard%s %s of %d", plural(missing),
				ranges(missing), n)
			if !allowPartial {
				return nil, nil, fmt.Errorf("%s (--allow-partial "+
					"merges without them)", what)
			}
			warnings = append(warnings, "partial result: "+what)
		}
	}
	for _, in := range ins {
		if !in.res.Time.Complete {
			warnings = append(warnings, in.from+": the run was "+
				"stopped early; the merge is incomplete")
		}
	}

	rs := make([]*metrics.Result, len(ins))
	for i, in := range ins {
		rs[i] = in.res
	}
	res, err := metrics.Merge(rs...)
	if err != nil {
		return nil, nil, err
	}
	return res, warnings, nil
}

// sameRun refuses inputs of different runs, naming the first two that
// differ.
func sameRun(ins []input) error {
	a := ins[0]
	for _, b := range ins[1:] {
		x, y := a.res, b.res
		var what, va, vb string
		switch {
		case x.RunID != y.RunID:
			what, va, vb = "run ids", x.RunID, y.RunID
		case x.ConfigHash != y.ConfigHash:
			what, va, vb = "config hashes (options)", x.ConfigHash,
				y.ConfigHash
		case (x.Shard == nil) != (y.Shard == nil):
			what, va, vb = "sharding", shardOf(x), shardOf(y)
		case x.Shard != nil && x.Shard.Count != y.Shard.Count:
			what, va, vb = "shard counts", strconv.Itoa(x.Shard.Count),
				strconv.Itoa(y.Shard.Count)
		default:
			continue
		}
		err := fmt.Errorf("%s differ: %q in %s, %q in %s", what, va,
			a.from, vb, b.from)
		if x.ConfigHash != y.ConfigHash && x.RunID == y.RunID {
			d := shard.ResultsDiff(x, y)
			if d != "" {
				err = fmt.Errorf("%w (first difference: %s)", err, d)
			}
		}
		return err
	}
	return nil
}

func shardOf(r *metrics.Result) string {
	if r.Shard == nil {
		return "unsharded"
	}
	return r.Shard.String()
}

// coverage returns the shards no input holds, and refuses a shard that
// two inputs hold.
func coverage(ins []input) ([]int, error) {
	n := ins[0].res.Shard.Count
	owner := make([]string, n)
	for _, in := range ins {
		s := in.res.Shard
		ks := s.Merged
		if ks == nil {
			ks = []int{s.Index}
		}
		for _, k := range ks {
			if owner[k] != "" {
				return nil, fmt.Errorf("shard %d/%d appears twice: in "+
					"%s and in %s", k, n, owner[k], in.from)
			}
			owner[k] = in.from
		}
	}
	var missing []int
	for k, o := range owner {
		if o == "" {
			missing = append(missing, k)
		}
	}
	return missing, nil
}

// ranges writes ascending numbers as "1, 3-5, 9".
func ranges(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func plural(ns []int) string {
	if len(ns) == 1 {
		return ""
	}
	return "s"
}
