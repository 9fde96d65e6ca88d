package shard

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func hash(t *testing.T, args ...string) string {
	t.Helper()
	h, err := ConfigHash(args)
	if err != nil {
		t.Fatalf("ConfigHash(%q): %v", args, err)
	}
	return h
}

// TestConfigHashSameLoad lists command lines that describe the same
// load as the first, in other orders, spellings and with other
// distribution and output options.
func TestConfigHashSameLoad(t *testing.T) {
	base := []string{"-s", "8", "-m", "20000", "-r", "2", "-N", "-d",
		"--rate", "100/1s", "--starttls", "mx.test:25"}
	want := hash(t, base...)
	if !strings.HasPrefix(want, "sha256:") || len(want) != 7+64 {
		t.Fatalf("hash %q is not sha256:<hex>", want)
	}
	same := [][]string{
		{"-m", "20000", "-s", "8", "-dN", "-r2", "--starttls=required",
			"--rate=100", "mx.test:25"},
		{"-Nd", "-s08", "-r", "2", "-m", "20000", "--rate", "6000/m",
			"--starttls=require", "mx.test:25"},
		{"-s", "1", "-s", "8", "-m", "20000", "-r", "2", "-N", "-d",
			"-q", "100", "-tls", "mx.test:25"},
		{"--shard=3/4", "--start-at", "+30s", "--run-id=r1",
			"--out=-", "--metrics-addr", ":9464", "--linger=30s",
			"--max-start-delay=2s", "-s", "8", "-m", "20000", "-r", "2",
			"-N", "-d", "-c", "-vv", "--rate", "100/1s", "--starttls",
			"--no-summary", "--cpuprofile", "/tmp/p", "--resolve-once",
			"mx.test:25"},
		{"--shard-key", "w1", "--shard-keys", "@hosts", "-s", "8", "-m",
			"20000", "-r", "2", "-N", "-d", "--rate", "0.1/1ms",
			"--starttls", "--source-addr", "127.0.0.12", "mx.test:25"},
		{"-s", "8", "--m=20000", "-r", "2", "-N", "-d", "--N=true",
			"--rate", "100/s", "--starttls", "--", "mx.test:25"},
	}
	// Secrets are not hashed; file paths only as given or not.
	secret := []string{"--tls-ca", "/a/ca.pem", "--auth-user", "u1",
		"--auth-password", "hunter2", "--auth-password-env", "PW",
		"--auth-password-file", "/run/secrets/pw"}
	other := []string{"--tls-ca", "/b/ca.pem", "--auth-user", "u2",
		"--auth-password", "swordfish"}
	if hash(t, append(secret, base...)...) !=
		hash(t, append(other, base...)...) {
		t.Error("passwords or per-host paths change the hash")
	}
	for _, args := range same {
		if got := hash(t, args...); got != want {
			t.Errorf("%q: hash differs from %q", args, base)
		}
	}
}

// TestConfigHashDifferentLoad changes one load-affecting setting at a
// time: each must change the hash.
func TestConfigHashDifferentLoad(t *testing.T) {
	base := []string{"-s", "8", "-m", "20000", "-r", "2", "mx.test:25"}
	seen := map[string]string{hash(t, base...): "base"}
	variants := [][]string{
		{"-s", "9"}, {"-m", "20001"}, {"-r", "3"}, {"-N"}, {"-d"},
		{"-A"}, {"-L"}, {"-o"}, {"-4"}, {"-6"}, {"-C", "3"},
		{"-l", "4096"}, {"-R", "2"}, {"-w", "1"}, {"-T", "65536"},
		{"-f", ""}, {"-f", "a@b.test"}, {"-F", "msg.eml"},
		{"-M", "gen.test"}, {"-S", "hi"}, {"-S", ""}, {"-t", "u@x.test"},
		{"-q", "50"}, {"--rate", "51"}, {"--starttls"},
		{"--starttls=opportunistic"}, {"--numbering", "3.9"},
		{"--postfix-file-bytes"}, {"--connect-timeout", "5s"},
		{"--connect-limit", "1"},
		{"--banner-timeout", "5s"}, {"--reply-timeout", "5s"},
		{"--duration", "30s"}, {"--max-lateness", "1s"},
		{"--seed", "7"}, {"--allow-few-sessions"}, {"--ehlo"},
		{"--smtps"}, {"--tls-verify"}, {"--tls-resume"},
		{"--tls-server-name", "mx"}, {"--tls-min-version", "1.3"},
		{"--tls-max-version", "1.2"}, {"--tls-ciphers", "x"},
		{"--tls-ca", "ca.pem"}, {"--tls-cert", "c.pem"},
		{"--tls-key", "k.pem"}, {"--auth", "PLAIN"},
		{"--auth-user", "u"}, {"--pipelining"}, {"--chunking"},
		{"--chunk-size", "64k"}, {"--eml", "corpus/"},
		{"--unique-headers"},
	}
	for _, v := range variants {
		// After base's options, so that they win; before the target.
		args := append(append(append([]string{}, base[:6]...), v...),
			base[6:]...)
		h := hash(t, args...)
		if prev, dup := seen[h]; dup {
			t.Errorf("%q hashes like %s", v, prev)
		}
		seen[h] = strings.Join(v, " ")
	}
	// The target is part of the load.
	other := append(append([]string{}, base[:len(base)-1]...),
		"mx.test:2525")
	if hash(t, other...) == hash(t, base...) {
		t.Error("the target is not hashed")
	}
}

func TestConfigHashErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-option", "x"},
		{"-Z", "x"},
		{"-s"},
		{"--rate"},
		{"-N", "--d=maybe", "x"},
	} {
		if h, err := ConfigHash(args); err == nil {
			t.Errorf("ConfigHash(%q) = %s, want an error", args, h)
		}
	}
}

// TestConfigHashKnowsEveryOption reads go-smtp-source's option
// definitions and checks that ConfigHash classifies each one, so that a
// new option cannot escape the hash unnoticed.
func TestConfigHashKnowsEveryOption(t *testing.T) {
	dir := filepath.Join("..", "..", "cmd", "go-smtp-source")
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	if len(files) == 0 {
		t.Skip("no cmd/go-smtp-source sources here")
	}
	var (
		longRE = regexp.MustCompile(`(?:StringLong|BoolLong|` +
			`CounterLong|str|flag)\("([a-z][a-z0-9-]+)"`)
		long2RE  = regexp.MustCompile(`(?:str|flag)\(0, "([a-z0-9-]+)"\)`)
		shortRE  = regexp.MustCompile(`(?:str|flag)\('(.)'`)
		short2RE = regexp.MustCompile(`(?:Long|Long\(""), '(.)'\)`)
	)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range longRE.FindAllStringSubmatch(string(data), -1) {
			found += checkLong(t, m[1])
		}
		for _, m := range long2RE.FindAllStringSubmatch(string(data), -1) {
			found += checkLong(t, m[1])
		}
		for _, re := range []*regexp.Regexp{shortRE, short2RE} {
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				if _, ok := shortOpts[m[1][0]]; !ok {
					t.Errorf("option -%s: not in shortOpts", m[1])
				}
				found++
			}
		}
	}
	if found < 30 {
		t.Errorf("found only %d option definitions: has the option "+
			"code moved? Update this test", found)
	}
}

func checkLong(t *testing.T, name string) int {
	t.Helper()
	if _, ok := longOpts[name]; !ok {
		t.Errorf("option --%s: not in longOpts (is it part of the "+
			"load? classify it in confighash.go)", name)
	}
	return 1
}

func TestConfigDiff(t *testing.T) {
	cases := []struct {
		a, b string
		want string
	}{
		{"-s 10 -m 100 mx", "-m100 -s10 mx", ""},
		{"-m 10 mx", "-m 20 mx", `-m="10" in one, -m="20" in the other`},
		{"-m 10 mx", "-m 10 other", `operand="mx" in one, ` +
			`operand="other" in the other`},
		// An option one side lacks is named, not the next one along.
		{"-m 10 -d mx", "-m 10 mx", `-d="" in one, no -d in the other`},
		{"-m 10 mx", "-d -m 10 mx", `no -d in one, -d="" in the other`},
		{"-s 5 -m 10 mx", "-m 10 -w 1 mx", `-s="5" in one, no -s in ` +
			`the other`},
		{"-m 10 mx", "-m 10 mx extra",
			`no operand in one, operand="extra" in the other`},
	}
	for _, c := range cases {
		got := ConfigDiff(strings.Fields(c.a), strings.Fields(c.b))
		if got != c.want {
			t.Errorf("%q vs %q: %q, want %q", c.a, c.b, got, c.want)
		}
	}
}
