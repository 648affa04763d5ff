package format

import (
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "Less than a second",
		time.Second:              "1 second",
		59 * time.Second:         "59 seconds",
		time.Minute:              "About a minute",
		47 * time.Minute:         "47 minutes",
		89 * time.Minute:         "About an hour",
		3 * time.Hour:            "3 hours",
		47 * time.Hour:           "47 hours",
		3 * 24 * time.Hour:       "3 days",
		20 * 24 * time.Hour:      "2 weeks",
		90 * 24 * time.Hour:      "3 months",
		3 * 365 * 24 * time.Hour: "3 years",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0B", 999: "999B", 1000: "1kB", 123456: "123kB", 7_801_234: "7.8MB", 1_234_567_890: "1.23GB",
	} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestEllipsis(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"sh -c true", 20, "sh -c true"},
		{"sleep 1000000000000000000", 20, "sleep 1000000000000…"},
		{"échoééééééééééééééééééé", 5, "écho…"},
	} {
		if got := ellipsis(tc.s, tc.n); got != tc.want {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
