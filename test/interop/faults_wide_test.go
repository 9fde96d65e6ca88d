package interop_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/postfixtest"
)

// TestSourceFaultsWide widens TestSourceFaults to the other ways of
// running a load: connection reuse (-d) and 50 sessions at once, with
// and without -A. Sessions racing make the number and order of
// warnings vary from run to run in both clients, so this compares the
// exit status and the set of distinct warning and fatal lines.
func TestSourceFaultsWide(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the wide fault comparison in -short mode")
	}
	postfix := postfixtest.SourcePath(t)
	sink := postfixtest.SinkPath(t)
	ours := postfixtest.SourceUnderTest(t)

	for _, fault := range []string{"-f", "-r", "-q", "-Q"} {
		for _, cmd := range faultCommands {
			for _, load := range [][]string{
				{"-d", "-s", "1", "-m", "6"},
				{"-s", "50", "-m", "60"},
				{"-d", "-s", "50", "-m", "60"},
			} {
				for _, abort := range []bool{false, true} {
					args := slices.Clone(load)
					if abort {
						args = append(args, "-A")
					}
					if deliberateDifference(fault, cmd, abort) {
						continue
					}
					name := fault + " " + cmd + " " +
						strings.Join(args, " ")
					sinkArgs := []string{fault, cmd}
					if cmd == "rset" {
						sinkArgs = append(sinkArgs, "-r", "rcpt")
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						s := postfixtest.StartSink(t, sink, false,
							sinkArgs...)
						compareFaultSets(t, postfix, ours,
							append(args, s.Addr))
					})
				}
			}
		}
	}
}

// deliberateDifference names the faults where our client differs from
// Postfix's on purpose (see quitClosed and closingGreeting).
func deliberateDifference(fault, cmd string, abort bool) bool {
	return fault == "-q" && cmd == "quit" ||
		fault == "-Q" && cmd == "connect" && abort
}

// compareFaultSets runs both clients with args and compares their exit
// status and the sets of their distinct diagnostics.
func compareFaultSets(t *testing.T, postfix, ours string, args []string) {
	t.Helper()
	want, got, hung := runBoth(t, postfix, ours, args)
	if hung {
		t.Skipf("Postfix's smtp-source hangs here (killed after %v)",
			faultBound)
	}
	ws, gs := diagnosticSet(want.Stderr), diagnosticSet(got.Stderr)
	if d := sameText("distinct warning/fatal lines", ws, gs); d != "" {
		t.Error(d)
	}
}

// diagnosticSet returns the distinct normalized diagnostics of a run,
// sorted, one a line.
func diagnosticSet(stderr string) string {
	d := postfixtest.Diagnostics(postfixtest.NormalizeStderr(stderr))
	slices.Sort(d)
	return strings.Join(slices.Compact(d), "\n")
}
