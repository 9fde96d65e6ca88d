package main

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

// kind says which programs a scenario compares.
type kind int

const (
	// clients compares go-smtp-source with smtp-source, both sending into
	// Postfix's smtp-sink. The client is measured.
	clients kind = iota
	// sinks compares go-smtp-sink with smtp-sink, both fed by Postfix's
	// smtp-source. The sink is measured.
	sinks
	// stress runs both clients into go-smtp-sink with room for every
	// session at once. The client is measured; what counts is that every
	// run completes.
	stress
)

// scenario is one row of the table.
type scenario struct {
	name  string // picked with -only
	title string
	kind  kind
	args  string // client options for both sides

	// oursArgs replaces args for go-smtp-source when it differs, and
	// needs is an option that our --help must mention for it to run.
	oursArgs string
	needs    string

	targets []target
}

// The targets of the issue, as checks on two tools' summaries.
var (
	clientTargets = []target{rateAtLeast(1.0), cpuAtMost(1.0)}
	sinkTargets   = []target{rateAtLeast(1.0)}
)

// scenarios are the benchmark scenarios, in report order.
var scenarios = []scenario{
	{name: "conn-s1", title: "one connection per message",
		args: "-s 1", targets: clientTargets},
	{name: "conn-s100", title: "one connection per message",
		args: "-s 100", targets: clientTargets},
	{name: "reuse-s1", title: "connection reuse",
		args: "-s 1 -d", targets: clientTargets},
	{name: "reuse-s100", title: "connection reuse",
		args: "-s 100 -d", targets: clientTargets},
	{name: "reuse-s1000", title: "connection reuse",
		args: "-s 1000 -d",
		targets: []target{rateAtLeast(1.0), cpuAtMost(1.0),
			rssAtMost(32)}},
	{name: "big-s20", title: "big messages",
		args: "-s 20 -l 100000", targets: clientTargets},
	{name: "pipelining", title: "pipelining (ours only)",
		args: "-s 100 -d", oursArgs: "-s 100 -d --pipelining",
		needs:   "--pipelining",
		targets: []target{rateAtLeast(1.8), cpuAtMost(1.0)}},
	{name: "sink-reuse", title: "sink, connection reuse", kind: sinks,
		args: "-s 100 -d", targets: sinkTargets},
	{name: "sink-conn", title: "sink, one connection per message",
		kind: sinks, args: "-s 100", targets: sinkTargets},
	{name: "sessions-10000", title: "10,000 concurrent sessions",
		kind: stress, args: "-s 10000 -d",
		targets: []target{allRunsCount()}},
}

// findScenario returns the scenario of that name, or nil.
func findScenario(name string) *scenario {
	for i := range scenarios {
		if scenarios[i].name == name {
			return &scenarios[i]
		}
	}
	return nil
}

// listScenarios prints the scenario names for -only.
func listScenarios(w io.Writer) {
	for _, sc := range scenarios {
		fmt.Fprintf(w, "%-15s %s: %s\n", sc.name, sc.title, sc.describe())
	}
}

// describe says in a few words what the scenario runs.
func (sc scenario) describe() string {
	switch sc.kind {
	case sinks:
		return fmt.Sprintf("smtp-source %s into go-smtp-sink vs smtp-sink",
			sc.args)
	case stress:
		return fmt.Sprintf("go-smtp-source and smtp-source %s "+
			"into go-smtp-sink", sc.args)
	}
	ours := sc.args
	if sc.oursArgs != "" {
		ours = sc.oursArgs
	}
	return fmt.Sprintf("go-smtp-source %s vs smtp-source %s into smtp-sink",
		ours, sc.args)
}

// setup is how one side of a scenario runs: which client into which sink,
// and which of the two is measured.
type setup struct {
	tool        string   // the measured program, as the report names it
	client      []string // argv, without -m and the target
	sink        []string // argv, without -u, -c, the address and backlog
	measureSink bool
}

// setups returns the two sides of a scenario, ours first, or why the
// scenario cannot run.
func (b *bench) setups(sc scenario) (ours, theirs setup, skip string) {
	cfg := b.cfg
	pfSource := append([]string{cfg.postfixSource}, strings.Fields(sc.args)...)
	pfSink := []string{cfg.postfixSink}

	if sc.kind != clients && cfg.sink == "" {
		return ours, theirs, "no go-smtp-sink binary was given (-sink)"
	}
	switch sc.kind {
	case sinks:
		ours = setup{"go-smtp-sink", pfSource, []string{cfg.sink}, true}
		theirs = setup{"smtp-sink", pfSource, pfSink, true}
		return ours, theirs, ""
	case stress:
		// -m: go-smtp-sink's cap on sessions at once, 256 by default.
		pfSink = []string{cfg.sink, "-m", "20000"}
	}

	args := sc.args
	if sc.oursArgs != "" {
		args = sc.oursArgs
	}
	if sc.needs != "" && !b.sourceHas(sc.needs) {
		return ours, theirs, fmt.Sprintf("go-smtp-source --help does "+
			"not mention %s, so the client lacks the option", sc.needs)
	}
	client := append([]string{cfg.source, "--no-summary"},
		strings.Fields(args)...)
	ours = setup{"go-smtp-source", client, pfSink, false}
	theirs = setup{"smtp-source", pfSource, pfSink, false}
	return ours, theirs, ""
}

// sourceHas reports whether go-smtp-source --help mentions an option.
func (b *bench) sourceHas(option string) bool {
	if b.help == nil {
		out, _ := exec.Command(b.cfg.source, "--help").CombinedOutput()
		b.help = out
	}
	return strings.Contains(string(b.help), option)
}

// command renders a setup for the report, with a placeholder port.
func (b *bench) command(s setup) string {
	client := append(baseArgv(s.client),
		"-m", fmt.Sprint(b.cfg.messages), "127.0.0.1:PORT")
	sink := baseArgv(b.sinkArgv(s.sink, "127.0.0.1:PORT"))
	return fmt.Sprintf("`%s` into `%s`", strings.Join(client, " "),
		strings.Join(sink, " "))
}

// baseArgv returns argv with the program's directory left out.
func baseArgv(argv []string) []string {
	out := append([]string{filepath.Base(argv[0])}, argv[1:]...)
	return out
}
