package metrics

import (
	"encoding/json"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func TestRoundTrip(t *testing.T) {
	res := sampleResult(t)
	text := encodeString(t, res)
	back := decodeString(t, text)
	if again := encodeString(t, back); again != text {
		t.Fatalf("decode and encode changed the document:\n%s",
			firstDiff(again, text))
	}

	if got := back.Config["big"]; got != json.Number("9007199254740993") {
		t.Errorf("config big = %v (%T), want it exact", got, got)
	}
	if back.Shard.Index != 2 || back.Shard.Key != "w2" ||
		back.Time.PlannedStartNS != res.Time.PlannedStartNS {
		t.Errorf("shard %+v, time %+v", back.Shard, back.Time)
	}
	for p := range NumPhases {
		a, b := res.Phase(p), back.Phase(p)
		if a.Count != b.Count || a.P99NS != b.P99NS ||
			a.ValueAt(75) != b.ValueAt(75) {
			t.Errorf("%v: %+v and %+v", p, a, b)
		}
	}
}

// TestDocument checks the document's layout: the names other tools
// read.
func TestDocument(t *testing.T) {
	var doc map[string]any
	text := encodeString(t, sampleResult(t))
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"format", "tool.go", "run_id", "config_hash", "config.target",
		"shard.index", "shard.count", "shard.key", "host.hostname",
		"time.start", "time.start_ns", "time.end_ns",
		"time.planned_start", "time.complete", "elapsed_ns",
		"rate_per_s", "messages.attempted", "messages.tempfail",
		"messages.unknown", "recipients.rejected", "sessions.opened",
		"bytes.out", "schedule.late", "replies.MAIL 250",
		"latency.unit", "latency.sigfigs", "latency.encoding",
		"latency.phases.connect.p999_ns", "latency.phases.session.hdr",
		"latency.phases.transaction_from_intended.count",
		"latency.phases.starttls.count", "series.interval_ns",
		"series.hdr.sigfigs", "series.points",
	} {
		if lookup(doc, path) == nil {
			t.Errorf("no %s in the document", path)
		}
	}
	if doc["format"] != "go-smtp-source-result/1" {
		t.Errorf("format = %v", doc["format"])
	}
	hist := lookup(doc, "latency.phases.mail.hdr").(string)
	if !strings.HasPrefix(hist, "HISTF") {
		t.Errorf("mail hdr = %.20s..., want V2 compressed base64", hist)
	}
	if _, err := hdr.Decode([]byte(hist)); err != nil {
		t.Errorf("the dense decoder cannot read the histogram: %v", err)
	}
}

func lookup(doc map[string]any, path string) any {
	var v any = doc
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func TestDecodeRefuses(t *testing.T) {
	valid := encodeString(t, sampleResult(t))
	other := hdr.NewPacked(1, hdrHighest, 2)
	other.RecordValue(5)
	otherHDR, _ := other.Encode()

	cases := []struct {
		name string
		edit func(doc map[string]any)
		text string // used instead of editing when set
		want string
	}{
		{name: "not json", text: "{", want: "not a result document"},
		{name: "array", text: "[]", want: "not a result document"},
		{name: "no format", text: `{"messages":{}}`, want: "no format"},
		{name: "next version", text: `{"format":"go-smtp-source-result/2"}`,
			want: `unsupported result format "go-smtp-source-result/2"`},
		{name: "trailing", text: valid + "{}", want: "data after"},
		{name: "negative", edit: set("messages.accepted", -1),
			want: "negative count"},
		{name: "attempted", edit: set("messages.attempted", 1),
			want: "not the sum"},
		{name: "count", edit: set("latency.phases.mail.count", 99999),
			want: "histogram holds"},
		{name: "min max", edit: set("latency.phases.mail.min_ns", 1e15),
			want: "inconsistent statistics"},
		{name: "no hdr", edit: set("latency.phases.mail.hdr", ""),
			want: "histogram: "},
		{name: "bad hdr", edit: set("latency.phases.mail.hdr", "AAAA"),
			want: "histogram: "},
		{name: "hdr params", edit: set("latency.phases.mail.hdr",
			string(otherHDR)), want: "parameters differ"},
		{name: "phase", edit: set("latency.phases.helo2", map[string]any{}),
			want: `unknown phase "helo2"`},
		{name: "sigfigs", edit: set("latency.sigfigs", 9),
			want: "bad histogram range"},
		{name: "unit", edit: set("latency.unit", "us"), want: "unit"},
		{name: "time text", edit: set("time.start", "2020-01-01T00:00:00Z"),
			want: "disagrees"},
		{name: "end", edit: func(doc map[string]any) {
			set("time.end_ns", 5)(doc)
			set("time.end", "1970-01-01T00:00:00.000000005Z")(doc)
		}, want: "end before start"},
		{name: "shard index", edit: set("shard.index", 8),
			want: "not in [0, 8)"},
		{name: "shard both", edit: set("shard.merged", []int{0, 1}),
			want: "either index or merged"},
		{name: "sources", edit: set("sources", []map[string]any{{}}),
			want: "single run"},
		{name: "reply", edit: set("replies.MAIL 250", -3),
			want: "bad entry"},
		{name: "point order", edit: func(doc map[string]any) {
			pts := lookup(doc, "series.points").([]any)
			pts[0], pts[1] = pts[1], pts[0]
		}, want: "time order"},
		{name: "point hdr", edit: func(doc map[string]any) {
			pt := lookup(doc, "series.points").([]any)[0]
			phases := pt.(map[string]any)["phases"].(map[string]any)
			phases["mail"] = map[string]any{"count": 1, "sum_ns": 5,
				"min_ns": 5, "max_ns": 5, "hdr": string(otherHDR)}
		}, want: "unexpected histogram"},
	}
	for _, c := range cases {
		text := c.text
		if text == "" {
			text = editDoc(t, valid, c.edit)
		}
		_, err := Decode(strings.NewReader(text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// editDoc applies edit to the document in text, keeping its numbers
// exact.
func editDoc(t *testing.T, text string, edit func(map[string]any)) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// set returns an edit that sets the value at a dotted path.
func set(path string, v any) func(map[string]any) {
	return func(doc map[string]any) {
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		m[keys[len(keys)-1]] = v
	}
}

func TestDerivedFieldsAreRecomputed(t *testing.T) {
	valid := encodeString(t, sampleResult(t))
	edited := editDoc(t, valid, func(doc map[string]any) {
		set("rate_per_s", 12345.0)(doc)
		set("latency.phases.mail.p99_ns", 1)(doc)
	})
	if got := encodeString(t, decodeString(t, edited)); got != valid {
		t.Errorf("derived fields were trusted:\n%s", firstDiff(got, valid))
	}
}
