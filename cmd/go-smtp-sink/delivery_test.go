package main

import (
	"strings"
	"testing"
)

func TestDeliveryOptions(t *testing.T) {
	cases := []struct {
		args    []string
		deliver bool
		out, id string
	}{
		{nil, false, "", ""},
		{[]string{"--delivery"}, true, "", ""},
		{[]string{"--out", "s.json"}, true, "s.json", ""},
		{[]string{"--run-id=e2e"}, true, "", "e2e"},
	}
	for _, tc := range cases {
		argv := append(append([]string{"go-smtp-sink"}, tc.args...),
			"127.0.0.1:2525", "10")
		o, err := parseOptions(argv)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if o.deliver != tc.deliver || o.out != tc.out || o.runID != tc.id {
			t.Errorf("%v: delivery %v out %q run id %q, want %v %q %q",
				tc.args, o.deliver, o.out, o.runID, tc.deliver, tc.out,
				tc.id)
		}
	}

	_, err := parseOptions([]string{"go-smtp-sink", "--run-id", "a b",
		"127.0.0.1:2525", "10"})
	if err == nil || !strings.Contains(err.Error(), "--run-id") {
		t.Errorf("bad run id: error %v, want one about --run-id", err)
	}
}
