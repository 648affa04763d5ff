package run

import (
	"os"
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

func TestGraceFromSlurmConf(t *testing.T) {
	conf := t.TempDir() + "/slurm.conf"
	t.Setenv("SLURM_JOB_ID", "7")
	t.Setenv("SLURM_CONF", conf)
	for _, c := range []struct {
		text string
		want time.Duration
	}{
		{"ClusterName=x\nKillWait=3\n", 3 * time.Second},
		{"KillWait=30\n", StopTimeout},   // never longer than box stop's
		{"ClusterName=x\n", StopTimeout}, // Slurm's default, 30 s
	} {
		if err := os.WriteFile(conf, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := (&Anchor{}).Grace(); got != c.want {
			t.Errorf("slurm.conf %q: grace %v, want %v", c.text, got, c.want)
		}
	}
	t.Setenv("SLURM_JOB_ID", "")
	if got := (&Anchor{}).Grace(); got != StopTimeout {
		t.Errorf("outside a job: grace %v, want %v", got, StopTimeout)
	}
}
