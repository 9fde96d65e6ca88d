package metrics

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/fuzz seeds")

// FuzzDecode checks that Decode never panics and that what it accepts
// encodes to a document that decodes to the same result.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var one, two bytes.Buffer
		if err := r.Encode(&one); err != nil {
			t.Fatal(err)
		}
		back, err := Decode(bytes.NewReader(one.Bytes()))
		if err != nil {
			t.Fatalf("re-decoding: %v\n%s", err, one.Bytes())
		}
		if err := back.Encode(&two); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Bytes(), two.Bytes()) {
			t.Fatalf("not stable:\n%s\n%s", one.Bytes(), two.Bytes())
		}
	})
}

// TestFuzzSeeds writes FuzzDecode's seed corpus with -update.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seeds")
	}
	small := New(t0)
	s := small.NewShard()
	s.Step(Mail, time.Millisecond, 250, ParseEnhanced("2.1.0"))
	s.Message(Accepted, 3*time.Millisecond, 4*time.Millisecond)
	s.Fail(Connect, KindRefused)
	small.Tick(at(time.Second))
	one := small.Result()
	one.Shard = &ShardInfo{Index: 0, Count: 2}
	two := small.Result()
	two.Shard = &ShardInfo{Index: 1, Count: 2}
	merged, err := Merge(one, two)
	if err != nil {
		t.Fatal(err)
	}
	valid := encodeString(t, one)

	seeds := map[string]string{
		"valid":     valid,
		"merged":    encodeString(t, merged),
		"empty":     encodeString(t, New(t0).Result()),
		"version":   `{"format":"go-smtp-source-result/2"}`,
		"truncated": valid[:len(valid)/2],
		"badhdr": `{"format":"go-smtp-source-result/1","latency":` +
			`{"unit":"ns","lowest":1,"highest":86400000000000,` +
			`"sigfigs":3,"encoding":"hdr-v2-compressed-base64",` +
			`"phases":{"mail":{"count":1,"sum_ns":1,"min_ns":1,` +
			`"max_ns":1,"hdr":"HISTFAAAAA=="}}}}`,
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n",
			strconv.Quote(text))
		err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}
}
