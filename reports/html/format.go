package html

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// fmtNum writes a measurement with precision that suits its size: three
// significant digits for small values, whole numbers with separators for
// large ones.
func fmtNum(v float64) string {
	v = finite(v)
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1e15 && v == math.Trunc(v):
		return group(strconv.FormatFloat(v, 'f', 0, 64)) // counts and round limits
	case a < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case a < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return group(strconv.FormatFloat(v, 'f', 0, 64))
}

// fmtObserved writes a threshold's figure. When the usual precision would
// print it equal to a limit it differs from, it is written in full, so a
// figure just over its limit never reads as meeting it.
func fmtObserved(v, limit float64) string {
	s := fmtNum(v)
	if v != limit && s == fmtNum(limit) {
		s = strconv.FormatFloat(finite(v), 'g', -1, 64)
	}
	return s
}

// fmtMS writes milliseconds ("0.412 ms", "12.3 ms", "1,204 ms").
func fmtMS(v float64) string { return fmtNum(v) + " ms" }

// fmtCount writes a count with thousands separators.
func fmtCount(n uint64) string { return group(strconv.FormatUint(n, 10)) }

// fmtPct writes a ratio in [0, 1] as a percentage with two decimals, so
// 99.99% and 100% stay apart.
func fmtPct(ratio float64) string {
	return strconv.FormatFloat(finite(ratio)*100, 'f', 2, 64) + "%"
}

// fmtDuration writes a run length: "850ms", "42.5s", "5m0s".
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// fmtTime writes a timestamp in UTC; the zero time is "—".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// group inserts thousands separators into a decimal integer string.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// trimZeros drops trailing decimal zeros for axis labels: "0.500" → "0.5".
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}
