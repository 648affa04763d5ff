package run

import (
	"testing"
	"time"
)

func TestParseKillWait(t *testing.T) {
	for _, c := range []struct {
		text string
		want time.Duration
	}{
		{"KillWait                = 5 sec\nMinJobAge = 300 sec\n", 5 * time.Second},
		{"ClusterName=x\nkillwait=7 # short\n", 7 * time.Second},
		{"InactiveLimit=0 KillWait=3\n", 3 * time.Second},
		{"#KillWait=1\nClusterName=x\n", -1},
		{"KillWait=soon\n", -1},
		{"", -1},
	} {
		if got := parseKillWait(c.text, -1); got != c.want {
			t.Errorf("parseKillWait(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}
