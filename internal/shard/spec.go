package shard

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/internal/metrics"
)

// MaxCount bounds the number of shards, to catch typos before they
// become a run of a million idle processes.
const MaxCount = 1 << 16

// Spec places this process in a distributed run: shard Index of Count,
// and the key that named it (--shard-key), if any. The zero Spec is an
// unsharded run, which behaves as shard 0 of 1.
type Spec struct {
	Index, Count int
	Key          string
}

// Flags are the distribution options as given on the command line.
type Flags struct {
	Shard string // --shard: "K/N", "auto", or "" for none
	Key   string // --shard-key: this process's key; default: hostname
	Keys  string // --shard-keys: "a,b,c" or "@file", one key a line
}

// hostname is the default --shard-key; a variable for tests.
var hostname = os.Hostname

// Parse works out which shard this process is from the flags and, for
// --shard auto, from the engine's environment as env (os.Getenv) gives
// it. No flag at all gives the zero Spec.
func Parse(f Flags, env func(string) string) (Spec, error) {
	switch {
	case f.Shard != "" && (f.Key != "" || f.Keys != ""):
		return Spec{}, errors.New("--shard and --shard-key(s) " +
			"exclude each other")
	case f.Shard == "auto":
		return auto(env)
	case f.Shard != "":
		return parseFraction(f.Shard)
	case f.Keys != "":
		return byKey(f.Key, f.Keys)
	case f.Key != "":
		return Spec{}, errors.New("--shard-key needs --shard-keys, " +
			"the list of every shard's key")
	}
	return Spec{}, nil
}

// parseFraction reads "K/N".
func parseFraction(s string) (Spec, error) {
	k, n, ok := strings.Cut(s, "/")
	ki, errK := atoi(k)
	ni, errN := atoi(n)
	if !ok || errK != nil || errN != nil {
		return Spec{}, fmt.Errorf("bad --shard %q: want K/N (such as "+
			"0/4) or auto", s)
	}
	return newSpec(ki, ni, "--shard "+s)
}

// atoi reads a plain decimal number: digits only, no sign or space.
func atoi(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}

func newSpec(k, n int, what string) (Spec, error) {
	switch {
	case n < 1 || n > MaxCount:
		return Spec{}, fmt.Errorf("%s: shard count %d is not in "+
			"[1, %d]", what, n, MaxCount)
	case k >= n:
		return Spec{}, fmt.Errorf("%s: shard index %d is not below "+
			"the shard count %d", what, k, n)
	}
	return Spec{Index: k, Count: n}, nil
}

// String returns "K/N", or "-" for an unsharded run.
func (s Spec) String() string {
	if !s.Sharded() {
		return "-"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Sharded reports whether the run was split with --shard or
// --shard-keys, even into a single shard.
func (s Spec) Sharded() bool { return s.Count > 0 }

// Info returns the shard as the result document records it, or nil for
// an unsharded run.
func (s Spec) Info() *metrics.ShardInfo {
	if !s.Sharded() {
		return nil
	}
	return &metrics.ShardInfo{Index: s.Index, Count: s.Count, Key: s.Key}
}

// engines are the environment variables --shard auto reads: the index
// of this process and the number of processes, per engine. Kubernetes
// and Nomad give no count, so the recipes set GO_SMTP_SOURCE_SHARDS.
// Slurm's count is the job step's (srun's tasks), not the job's
// SLURM_NTASKS: a batch script itself has SLURM_PROCID=0 and the job's
// task count, and must not pass for shard 0 of them.
var engines = []struct{ name, index, count string }{
	{"Kubernetes", "JOB_COMPLETION_INDEX", "GO_SMTP_SOURCE_SHARDS"},
	{"Slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS"},
	{"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
	{"Nomad", "NOMAD_ALLOC_INDEX", "GO_SMTP_SOURCE_SHARDS"},
}

// hints follow the error for a missing count variable.
var hints = map[string]string{
	"SLURM_STEP_NUM_TASKS":  " (start each shard with srun)",
	"GO_SMTP_SOURCE_SHARDS": " (set it to the number of shards)",
}

// auto reads the shard from the engine's environment. Several engines'
// variables may be set (an srun inside a pod) only if they agree.
func auto(env func(string) string) (Spec, error) {
	var (
		found Spec
		from  string
	)
	for _, e := range engines {
		idx := env(e.index)
		if idx == "" {
			continue
		}
		cnt := env(e.count)
		if cnt == "" {
			return Spec{}, fmt.Errorf("--shard auto: %s is set but "+
				"%s is not%s", e.index, e.count, hints[e.count])
		}
		k, errK := atoi(idx)
		n, errN := atoi(cnt)
		if errK != nil || errN != nil {
			return Spec{}, fmt.Errorf("--shard auto: bad %s=%q or "+
				"%s=%q", e.index, idx, e.count, cnt)
		}
		what := fmt.Sprintf("--shard auto (%s=%s %s=%s)", e.index, idx,
			e.count, cnt)
		s, err := newSpec(k, n, what)
		if err != nil {
			return Spec{}, err
		}
		if from != "" && s != found {
			return Spec{}, fmt.Errorf("--shard auto: %s says %v but "+
				"%s says %v", from, found, e.index, s)
		}
		found, from = s, e.index
	}
	if from == "" {
		return Spec{}, errors.New("--shard auto: no engine variable " +
			"set (JOB_COMPLETION_INDEX, SLURM_PROCID, " +
			"OMPI_COMM_WORLD_RANK, NOMAD_ALLOC_INDEX)")
	}
	return found, nil
}

// byKey finds this process's key in the list of all keys: its position
// is the shard index, the list's length the count.
func byKey(key, list string) (Spec, error) {
	keys, err := readKeys(list)
	if err != nil {
		return Spec{}, err
	}
	if key == "" {
		if key, err = hostname(); err != nil {
			return Spec{}, fmt.Errorf("--shard-key: no key given and "+
				"no hostname: %w", err)
		}
	}
	k, err := position(key, keys)
	if err != nil {
		return Spec{}, err
	}
	s, err := newSpec(k, len(keys), "--shard-keys")
	s.Key = key
	return s, err
}

// readKeys reads --shard-keys: a comma-separated list, or "@file" with
// one key a line (blank lines and lines starting with '#' skipped).
func readKeys(list string) ([]string, error) {
	var keys []string
	if name, ok := strings.CutPrefix(list, "@"); ok {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("--shard-keys: %w", err)
		}
		for line := range strings.Lines(string(data)) {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
			}
		}
	} else {
		for k := range strings.SplitSeq(list, ",") {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		switch {
		case k == "":
			return nil, fmt.Errorf("--shard-keys %q: empty key", list)
		case seen[k]:
			return nil, fmt.Errorf("--shard-keys: key %q appears "+
				"twice", k)
		}
		seen[k] = true
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--shard-keys %q: no key", list)
	}
	return keys, nil
}

// position returns the index of key in keys: an exact match, or else
// the only entry with the same first label ("w1" for "w1.example"), as
// a hostname and a hosts file often spell a host differently.
func position(key string, keys []string) (int, error) {
	for i, k := range keys {
		if k == key {
			return i, nil
		}
	}
	short := func(s string) string {
		h, _, _ := strings.Cut(s, ".")
		return h
	}
	found := -1
	for i, k := range keys {
		if short(k) != short(key) {
			continue
		}
		if found >= 0 {
			return 0, fmt.Errorf("--shard-key %q matches both %q "+
				"and %q", key, keys[found], k)
		}
		found = i
	}
	if found < 0 {
		return 0, fmt.Errorf("--shard-key %q is not in --shard-keys "+
			"(%d keys)", key, len(keys))
	}
	return found, nil
}
