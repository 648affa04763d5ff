package run

import (
	"bufio"
	"os"
	"strings"
	"sync"
)

// slurmSignalsTree tells whether the Slurm box runs under signals every
// process of a job step itself, the container's included: with process-tree
// tracking (proctrack/linuxproc) slurmstepd signals each descendant, so a
// signal box forwarded as well would come twice. With cgroup tracking it
// signals only the tasks it started (box), and with proctrack/pgid only
// their process group (the container has a session of its own): box must
// forward. Read once, from slurm.conf (SLURM_CONF, else
// /etc/slurm/slurm.conf), and only when a signal comes; a configuration box
// cannot read means forwarding, as docker does.
var slurmSignalsTree = sync.OnceValue(func() bool {
	path := os.Getenv("SLURM_CONF")
	if path == "" {
		path = "/etc/slurm/slurm.conf"
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "ProctrackType") {
			return strings.EqualFold(strings.TrimSpace(v), "proctrack/linuxproc")
		}
	}
	return false
})
