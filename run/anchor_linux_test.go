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

// A configless node has its slurm.conf only in slurmd's cache: the
// signalling (ProctrackType) and KillWait are both read from there, not
// the first from /etc/slurm alone.
func TestSlurmConfConfigless(t *testing.T) {
	dir := t.TempDir()
	cached := dir + "/conf-cache/slurm.conf"
	if err := os.MkdirAll(dir+"/conf-cache", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("ProctrackType = proctrack/linuxproc\nKillWait=4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := slurmConfPaths
	t.Cleanup(func() { slurmConfPaths = saved })
	slurmConfPaths = func() []string { return []string{dir + "/etc/slurm/slurm.conf", cached} }

	c := ReadSlurmConf(false)
	if c.Source != cached {
		t.Errorf("read %q, want %q", c.Source, cached)
	}
	if !c.SignalsTree() {
		t.Errorf("ProctrackType %q: SignalsTree false, want true", c.ProctrackType())
	}
	if kw, ok := c.KillWait(); !ok || kw != 4*time.Second {
		t.Errorf("KillWait %v %v, want 4s", kw, ok)
	}

	os.WriteFile(cached, []byte("ProctrackType=proctrack/cgroup\n"), 0o644)
	c = ReadSlurmConf(false)
	if c.SignalsTree() {
		t.Errorf("proctrack/cgroup: SignalsTree true, want false")
	}
	if kw, ok := c.KillWait(); !ok || kw != 30*time.Second {
		t.Errorf("no KillWait in slurm.conf: %v %v, want Slurm's default 30s", kw, ok)
	}

	os.Remove(cached)
	if c := ReadSlurmConf(false); c.Source != "" || c.SignalsTree() {
		t.Errorf("no slurm.conf: read %q, SignalsTree %v; want none, forwarding", c.Source, c.SignalsTree())
	}
}

// A job step's end may come after Slurm's own SIGTERM and KillWait: the
// container gets a short grace, whatever the cluster's KillWait.
func TestGraceJobAnchor(t *testing.T) {
	t.Setenv("SLURM_JOB_ID", "7")
	if got := (&Anchor{Job: true}).Grace(); got != JobGrace {
		t.Errorf("job anchor: grace %v, want %v", got, JobGrace)
	}
}
