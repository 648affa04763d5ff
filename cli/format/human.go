package format

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// HumanDuration is a duration in docker's words: "Less than a second",
// "About a minute", "3 hours", "2 weeks" (go-units' thresholds, which
// docker ps and images use for CREATED and STATUS).
func HumanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	}
	h := int(d.Hours() + 0.5)
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// ago is "<HumanDuration> ago" for t, "" for the zero time.
func ago(t time.Time, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return HumanDuration(now.Sub(t)) + " ago"
}

// HumanSize is a byte count as docker's listings show it: decimal units,
// three significant digits, no space ("7.8MB", "123kB", "1.23GB").
func HumanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	v, i := float64(n), 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", v, units[i])
}

// ellipsis shortens s to n characters, the last one "…", as docker does
// for the command in ps.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shortID is an id as listings show it: 12 hex digits, no "sha256:".
func shortID(id string) string {
	if len(id) > 7 && id[:7] == "sha256:" {
		id = id[7:]
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// timestamp is how docker's inspect writes a time: RFC 3339 with
// nanoseconds, in UTC; the zero time is "0001-01-01T00:00:00Z".
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
