package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	cases := []struct {
		ns   int64
		want string
	}{
		{0, "0"},
		{1, "1ns"},
		{999, "999ns"},
		{1000, "1.000µs"},
		{12345, "12.35µs"},  // rounded to four digits
		{999949, "999.9µs"}, // still under 1000
		{999960, "1.000ms"}, // rounds up into the next unit
		{1234567, "1.235ms"},
		{int64(2500 * time.Millisecond), "2.500s"},
		{int64(999 * time.Second), "999.0s"},
		{int64(1000 * time.Second), "16m40s"},
		{-1500, "-1.500µs"},
	}
	for _, c := range cases {
		if got := duration(c.ns); got != c.want {
			t.Errorf("duration(%d) = %q, want %q", c.ns, got, c.want)
		}
	}
}

func TestSize(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1.00 kB"},
		{45678, "45.7 kB"},
		{999500, "1.00 MB"},
		{1 << 40, "1.10 TB"},
	}
	for _, c := range cases {
		if got := size(c.n); got != c.want {
			t.Errorf("size(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for ns, want := range map[float64]string{
		1e6:   "1ms",
		2.5e9: "2.5s",
		5e5:   "500µs",
		20:    "20ns",
		1e4:   "10µs",
	} {
		if got := shortDuration(ns); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", ns, got, want)
		}
	}
}

func TestNinesLabel(t *testing.T) {
	want := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	for k, w := range want {
		if got := ninesLabel(float64(k)); got != w {
			t.Errorf("ninesLabel(%d) = %q, want %q", k, got, w)
		}
	}
}

func TestLinearAxis(t *testing.T) {
	a := linearAxis(0, 0.93, shortNumber)
	var labels []string
	for _, tk := range a.ticks {
		labels = append(labels, tk.label)
	}
	if got := strings.Join(labels, " "); got != "0 0.2 0.4 0.6 0.8 1" {
		t.Errorf("ticks %q", got)
	}
	if a.min != 0 || a.max != 1 {
		t.Errorf("range %v..%v, want 0..1", a.min, a.max)
	}
}

func TestLogAxis(t *testing.T) {
	a := logAxis(1.5e5, 7e6, shortDuration)
	if a.min != 1e5 || a.max != 1e7 || !a.log {
		t.Errorf("range %v..%v log %v, want 1e5..1e7", a.min, a.max, a.log)
	}
	var labels []string
	for _, tk := range a.ticks {
		labels = append(labels, tk.label)
	}
	want := "100µs 200µs 500µs 1ms 2ms 5ms 10ms"
	if got := strings.Join(labels, " "); got != want {
		t.Errorf("ticks %q, want %q", got, want)
	}
	if p := a.pos(1e6); math.Abs(p-0.5) > 1e-9 {
		t.Errorf("1ms at %v of the axis, want the middle", p)
	}
}

// TestPathBreaks checks that a line breaks at NaN and at values a
// logarithmic axis cannot show, and that a point alone is a dot.
func TestPathBreaks(t *testing.T) {
	c := &chart{
		x: axis{min: 0, max: 10},
		y: axis{min: 1, max: 100, log: true},
	}
	var b strings.Builder
	c.path(&b, plotLine{name: "l", color: "#123456", pts: []xy{
		{0, 10}, {1, 20}, {2, math.NaN()}, {3, 30}, {4, 0}, {5, 40},
		{6, 50},
	}})
	out := b.String()
	if n := strings.Count(out, "M"); n != 2 {
		t.Errorf("%d subpaths, want 2: %s", n, out)
	}
	if n := strings.Count(out, "<circle"); n != 1 {
		t.Errorf("%d dots, want 1 (for x=3): %s", n, out)
	}
	if n := strings.Count(out, "L"); n != 2 {
		t.Errorf("%d segments, want 2: %s", n, out)
	}
}
