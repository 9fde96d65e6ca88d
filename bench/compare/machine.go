package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where and what the benchmark ran.
type machine struct {
	cores     int
	cpuModel  string
	kernel    string
	goVersion string
	postfix   string // mail_version
	commit    string // short hash, "-dirty" when the tree has changes
	loadStart string
}

// describeMachine gathers the machine description.
func describeMachine(cfg *config) machine {
	m := machine{
		cores:     runtime.NumCPU(),
		cpuModel:  cpuModel(),
		kernel:    firstLine(readFile("/proc/sys/kernel/osrelease")),
		goVersion: runtime.Version(),
		postfix: output(filepath.Join(filepath.Dir(cfg.postfixSink),
			"postconf"), "-d", "-h", "mail_version"),
		commit:    commit(cfg.repo),
		loadStart: loadAverage(),
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown"
}

// commit returns the short commit of the clone at dir, with "-dirty" when
// it has changes or untracked files. It takes no locks: other people may
// be committing in the same tree.
func commit(dir string) string {
	hash := output("git", "-C", dir, "rev-parse", "--short", "HEAD")
	cmd := exec.Command("git", "-C", dir, "status", "--porcelain")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	if out, err := cmd.Output(); err == nil && len(out) > 0 {
		hash += "-dirty"
	}
	return hash
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// output returns the first line a command prints, or "unknown".
func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return firstLine(string(out))
}

// readFile returns a file's contents, or "" when it cannot be read.
func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// firstLine returns the first line of s, trimmed, or "unknown".
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if line == "" {
		return "unknown"
	}
	return line
}

// coresText says "2 cores" or "1 core".
func (m machine) coresText() string {
	if m.cores == 1 {
		return "1 core"
	}
	return strconv.Itoa(m.cores) + " cores"
}
