package shard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envOf returns a getenv over vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		f    Flags
		env  map[string]string
		want Spec
	}{
		{"none", Flags{}, nil, Spec{}},
		{"fraction", Flags{Shard: "2/8"}, nil, Spec{Index: 2, Count: 8}},
		{"one of one", Flags{Shard: "0/1"}, nil, Spec{Count: 1}},
		{"kubernetes", Flags{Shard: "auto"}, map[string]string{
			"JOB_COMPLETION_INDEX": "3", "GO_SMTP_SOURCE_SHARDS": "4",
		}, Spec{Index: 3, Count: 4}},
		{"slurm", Flags{Shard: "auto"}, map[string]string{
			"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2",
			"SLURM_NTASKS": "8",
		}, Spec{Index: 0, Count: 2}},
		{"open mpi", Flags{Shard: "auto"}, map[string]string{
			"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_SIZE": "6",
		}, Spec{Index: 5, Count: 6}},
		{"nomad", Flags{Shard: "auto"}, map[string]string{
			"NOMAD_ALLOC_INDEX": "1", "GO_SMTP_SOURCE_SHARDS": "3",
		}, Spec{Index: 1, Count: 3}},
		{"engines agree", Flags{Shard: "auto"}, map[string]string{
			"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
			"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
		}, Spec{Index: 1, Count: 2}},
		{"shard count alone is ignored", Flags{Shard: "auto"},
			map[string]string{
				"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2",
				"GO_SMTP_SOURCE_SHARDS": "9",
			}, Spec{Index: 1, Count: 2}},
		{"key", Flags{Key: "w2", Keys: "w0,w1,w2,w3"}, nil,
			Spec{Index: 2, Count: 4, Key: "w2"}},
		{"key, spaces", Flags{Key: "b", Keys: " a , b "}, nil,
			Spec{Index: 1, Count: 2, Key: "b"}},
		{"key, short name", Flags{Key: "w1.lab.test", Keys: "w0,w1"},
			nil, Spec{Index: 1, Count: 2, Key: "w1.lab.test"}},
		{"key, hostname", Flags{Keys: "gen-0,gen-1,this-host"}, nil,
			Spec{Index: 2, Count: 3, Key: "this-host"}},
	}
	hostname = func() (string, error) { return "this-host", nil }
	defer func() { hostname = os.Hostname }()
	for _, c := range cases {
		got, err := Parse(c.f, envOf(c.env))
		if err != nil || got != c.want {
			t.Errorf("%s: Parse(%+v) = %+v, %v; want %+v", c.name, c.f,
				got, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		f    Flags
		env  map[string]string
		want string // in the error
	}{
		{Flags{Shard: "4/4"}, nil, "not below"},
		{Flags{Shard: "0/0"}, nil, "shard count 0"},
		{Flags{Shard: "1/70000"}, nil, "shard count 70000"},
		{Flags{Shard: "-1/4"}, nil, "want K/N"},
		{Flags{Shard: "+1/4"}, nil, "want K/N"},
		{Flags{Shard: "1/4/5"}, nil, "want K/N"},
		{Flags{Shard: "1"}, nil, "want K/N"},
		{Flags{Shard: " 1/4"}, nil, "want K/N"},
		{Flags{Shard: "one/two"}, nil, "want K/N"},
		{Flags{Shard: "1/4", Key: "a", Keys: "a"}, nil, "exclude"},
		{Flags{Key: "a"}, nil, "needs --shard-keys"},
		{Flags{Shard: "auto"}, nil, "no engine variable"},
		{Flags{Shard: "auto"}, map[string]string{
			"JOB_COMPLETION_INDEX": "0",
		}, "GO_SMTP_SOURCE_SHARDS is not"},
		{Flags{Shard: "auto"}, map[string]string{
			// A batch script outside srun.
			"SLURM_PROCID": "0", "SLURM_NTASKS": "4",
		}, "SLURM_STEP_NUM_TASKS is not (start each shard with " +
			"srun)"},
		{Flags{Shard: "auto"}, map[string]string{
			"JOB_COMPLETION_INDEX": "4", "GO_SMTP_SOURCE_SHARDS": "4",
		}, "not below"},
		{Flags{Shard: "auto"}, map[string]string{
			"JOB_COMPLETION_INDEX": "x", "GO_SMTP_SOURCE_SHARDS": "4",
		}, "bad JOB_COMPLETION_INDEX"},
		{Flags{Shard: "auto"}, map[string]string{
			"JOB_COMPLETION_INDEX": "1", "GO_SMTP_SOURCE_SHARDS": "4",
			"SLURM_PROCID": "2", "SLURM_STEP_NUM_TASKS": "4",
		}, "JOB_COMPLETION_INDEX says 1/4 but SLURM_PROCID says 2/4"},
		{Flags{Key: "w9", Keys: "w0,w1"}, nil, "not in --shard-keys"},
		{Flags{Key: "a", Keys: "a,,b"}, nil, "empty key"},
		{Flags{Key: "a", Keys: "a,b,a"}, nil, "appears twice"},
		{Flags{Key: "w1", Keys: "w1.a,w1.b"}, nil, "matches both"},
		{Flags{Key: "a", Keys: "@/proc/nonexistent/hosts"}, nil,
			"no such file"},
	}
	for _, c := range cases {
		_, err := Parse(c.f, envOf(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%+v, %v) = %v; want an error with %q",
				c.f, c.env, err, c.want)
		}
	}
}

func TestParseKeysFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "hosts")
	data := "# the fleet\nw0\n\n  w1  \nw2\n"
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(Flags{Key: "w1", Keys: "@" + name}, envOf(nil))
	want := Spec{Index: 1, Count: 3, Key: "w1"}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}

	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o644)
	if _, err := Parse(Flags{Key: "w1", Keys: "@" + empty},
		envOf(nil)); err == nil || !strings.Contains(err.Error(),
		"no key") {
		t.Errorf("empty keys file: %v", err)
	}
}

func TestParseNoHostname(t *testing.T) {
	hostname = func() (string, error) { return "", errors.New("boom") }
	defer func() { hostname = os.Hostname }()
	_, err := Parse(Flags{Keys: "a,b"}, envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("got %v, want the hostname error", err)
	}
}

func TestSpecInfo(t *testing.T) {
	if (Spec{}).Info() != nil || (Spec{}).Sharded() {
		t.Error("an unsharded run has shard info")
	}
	s := Spec{Index: 1, Count: 3, Key: "w1"}
	in := s.Info()
	if in == nil || in.Index != 1 || in.Count != 3 || in.Key != "w1" {
		t.Errorf("Info() = %+v", in)
	}
	if s.String() != "1/3" || (Spec{}).String() != "-" {
		t.Errorf("String() = %q, %q", s.String(), Spec{}.String())
	}
}
