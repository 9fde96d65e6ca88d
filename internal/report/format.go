package report

import (
	"strconv"
	"time"
)

// duration writes ns nanoseconds with four significant digits and the
// largest unit that keeps the number under 1000: "850ns", "12.34µs",
// "1.234ms", "2.500s". From 1000 seconds on it uses Go's form rounded
// to the second ("16m40s").
func duration(ns int64) string {
	switch {
	case ns == 0:
		return "0"
	case ns < 0:
		return "-" + duration(-ns)
	case ns < 1000:
		return strconv.FormatInt(ns, 10) + "ns"
	}
	v := float64(ns)
	for _, u := range []string{"µs", "ms", "s"} {
		v /= 1000
		if s, ok := sig(v, 4); ok {
			return s + u
		}
	}
	return time.Duration(ns).Round(time.Second).String()
}

// sig writes v, which is at least 1, with the given number of
// significant digits (3 or more); it fails when v rounds to 1000 or
// more, the next unit's business.
func sig(v float64, digits int) (string, bool) {
	limit := 10.0
	for dec := digits - 1; dec > digits-4; dec-- {
		s := strconv.FormatFloat(v, 'f', dec, 64)
		if r, _ := strconv.ParseFloat(s, 64); r < limit {
			return s, true
		}
		limit *= 10
	}
	return "", false
}

// size writes a byte count with SI prefixes and three significant
// digits: "512 B", "1.23 kB", "45.6 MB".
func size(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if s, ok := sig(v, 3); ok {
			return s + " " + u
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " EB"
}

// percent writes a ratio of 0 to 1 as a percentage with two decimals.
func percent(r float64) string {
	return strconv.FormatFloat(100*r, 'f', 2, 64) + "%"
}

// rate writes messages a second with one decimal.
func rate(r float64) string {
	return strconv.FormatFloat(r, 'f', 1, 64) + " msg/s"
}

// clock writes a wall-clock time in UTC to the millisecond.
func clock(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000 MST")
}
