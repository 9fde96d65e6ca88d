// Package postfixtest helps tests run Postfix's smtp-source(1) and
// smtp-sink(1) beside our drop-ins and compare what they do: it finds or
// builds the binaries, starts sinks on free loopback ports, runs clients
// with a time bound, normalises the volatile parts of sink dumps and
// stderr, and runs a private Postfix MTA (a postmulti(1) instance).
//
// Tests that need a Postfix tool skip when it is missing, unless the
// environment has CI=true: there a missing tool fails the test, because
// .ci/run installs Postfix and a skip would hide a broken CI machine.
package postfixtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Where Debian's postfix package installs the tools.
const (
	postfixSource = "/usr/sbin/smtp-source"
	postfixSink   = "/usr/sbin/smtp-sink"
)

// Environment variables that replace the binary under test.
const (
	EnvSourceBin = "GO_SMTP_SOURCE_BIN"
	EnvSinkBin   = "GO_SMTP_SINK_BIN"
)

// InCI reports whether the tests run in CI (CI=true), where a missing
// tool is an error rather than a reason to skip.
func InCI() bool {
	return os.Getenv("CI") == "true"
}

// Missing fails the test in CI and skips it elsewhere, with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: .ci/run must install it)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// SourcePath returns the path of Postfix's smtp-source.
func SourcePath(t testing.TB) string {
	t.Helper()
	return postfixTool(t, postfixSource)
}

// SinkPath returns the path of Postfix's smtp-sink.
func SinkPath(t testing.TB) string {
	t.Helper()
	return postfixTool(t, postfixSink)
}

func postfixTool(t testing.TB, path string) string {
	t.Helper()
	if isExecutable(path) {
		return path
	}
	if p, err := exec.LookPath(filepath.Base(path)); err == nil {
		return p
	}
	Missing(t, "Postfix's %s is not installed", filepath.Base(path))
	return ""
}

// IsPostfix reports whether bin is one of Postfix's tools rather than
// one of ours, judging by its name.
func IsPostfix(bin string) bool {
	switch filepath.Base(bin) {
	case "smtp-source", "smtp-sink":
		return true
	}
	return false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// SourceUnderTest returns our smtp-source: $GO_SMTP_SOURCE_BIN when
// set (e.g. /usr/sbin/smtp-source to check the harness against Postfix
// itself), else ./cmd/go-smtp-source built with GoBuild.
func SourceUnderTest(t testing.TB) string {
	t.Helper()
	return underTest(t, EnvSourceBin, "./cmd/go-smtp-source")
}

// SinkUnderTest returns our smtp-sink: $GO_SMTP_SINK_BIN when set, else
// ./cmd/go-smtp-sink built with GoBuild.
func SinkUnderTest(t testing.TB) string {
	t.Helper()
	return underTest(t, EnvSinkBin, "./cmd/go-smtp-sink")
}

func underTest(t testing.TB, env, pkg string) string {
	t.Helper()
	if bin := os.Getenv(env); bin != "" {
		if !isExecutable(bin) {
			t.Fatalf("%s=%s: not an executable file", env, bin)
		}
		return bin
	}
	return GoBuild(t, pkg)
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// ModuleRoot returns the directory holding this module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		switch {
		case err != nil:
			rootErr = fmt.Errorf("go env GOMOD: %w", err)
		case gomod == "" || gomod == os.DevNull:
			rootErr = fmt.Errorf("not inside a Go module")
		default:
			rootDir = filepath.Dir(gomod)
		}
	})
	if rootErr != nil {
		t.Fatalf("module root: %v", rootErr)
	}
	return rootDir
}

// build is one GoBuild result, kept for the life of the test process.
type build struct {
	bin string
	err error
}

var (
	buildMu    sync.Mutex
	builds     = map[string]build{}
	buildDir   string
	buildDirOK bool
)

// GoBuild builds the main package pkg (a path relative to the module
// root, such as "./cmd/go-smtp-source") once per test process and
// returns the binary's path. A package that does not exist yet skips
// the test (fails it in CI); a build error fails it.
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	root := ModuleRoot(t)
	if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
		Missing(t, "package %s does not exist", pkg)
	}

	buildMu.Lock()
	defer buildMu.Unlock()
	b, ok := builds[pkg]
	if !ok {
		b = goBuild(root, pkg)
		builds[pkg] = b
	}
	if b.err != nil {
		t.Fatalf("go build %s: %v", pkg, b.err)
	}
	return b.bin
}

func goBuild(root, pkg string) build {
	dir, err := binDir()
	if err != nil {
		return build{err: err}
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return build{err: fmt.Errorf("%w\n%s", err, out.Bytes())}
	}
	return build{bin: bin}
}

// binDir returns this process's directory for built binaries. Go tests
// have no process-wide cleanup hook, so the directory is named after the
// pid and directories of processes that are gone are removed here.
func binDir() (string, error) {
	if buildDirOK {
		return buildDir, nil
	}
	const prefix = "postfixtest-bin-"
	tmp := os.TempDir()
	old, _ := filepath.Glob(filepath.Join(tmp, prefix+"*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), prefix))
		if err == nil && pid != os.Getpid() && !alive(pid) {
			os.RemoveAll(d)
		}
	}
	dir := filepath.Join(tmp, prefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	buildDir, buildDirOK = dir, true
	return dir, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
