package run

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/box-run/box/internal/siginfo"
)

// SlurmConf is what box reads of the node's Slurm configuration: the text
// of its slurm.conf, or else of scontrol show config, and where it came
// from. KillWait (Anchor.Grace) and ProctrackType (slurmSignalsTree) are
// read through it, so both come from the same place.
type SlurmConf struct {
	Source string // the slurm.conf read, "scontrol show config", or "" (none)
	text   string
	file   bool // text is a slurm.conf (where a missing key means Slurm's default)
}

// slurmConfPaths are where a node's slurm.conf is: $SLURM_CONF, the usual
// places, and the copies slurmd keeps in configless mode. A variable, for
// tests.
var slurmConfPaths = func() []string {
	var ps []string
	if p := os.Getenv("SLURM_CONF"); p != "" {
		ps = append(ps, p)
	}
	return append(ps, "/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf",
		"/run/slurm/conf/slurm.conf", "/var/spool/slurmd/conf-cache/slurm.conf")
}

// ReadSlurmConf reads the first slurm.conf of slurmConfPaths that can be
// read: no round trip to slurmctld, which a loaded cluster can make slow.
// Without one it asks scontrol (within 5 s) if scontrol is true: the node
// may have no slurm.conf.
func ReadSlurmConf(scontrol bool) SlurmConf {
	for _, p := range slurmConfPaths() {
		if b, err := os.ReadFile(p); err == nil {
			return SlurmConf{Source: p, text: string(b), file: true}
		}
	}
	if !scontrol {
		return SlurmConf{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "scontrol", "show", "config").Output()
	if err != nil {
		return SlurmConf{}
	}
	return SlurmConf{Source: "scontrol show config", text: string(out)}
}

// KillWait is how long Slurm waits between the SIGTERM and the SIGKILL
// that end a job. A slurm.conf without it means Slurm's default, 30 s.
func (c SlurmConf) KillWait() (time.Duration, bool) {
	if c.Source == "" {
		return 0, false
	}
	def := time.Duration(-1)
	if c.file {
		def = 30 * time.Second
	}
	kw := parseKillWait(c.text, def)
	return kw, kw >= 0
}

// ProctrackType is how Slurm tracks a job's processes, "" when unknown.
// A slurm.conf without it means Slurm's default, proctrack/cgroup.
func (c SlurmConf) ProctrackType() string {
	if v, ok := parseConfValue(c.text, "ProctrackType"); ok {
		return v
	}
	if c.file {
		return "proctrack/cgroup"
	}
	return ""
}

// SignalsTree tells whether Slurm signals every process of a job step
// itself, the container's included: with process-tree tracking
// (proctrack/linuxproc) slurmstepd signals each descendant, so a signal
// box forwarded as well would come twice. With cgroup tracking it signals
// only the tasks it started (box), and with proctrack/pgid only their
// process group (the container has a session of its own): box must
// forward. A configuration box cannot read means forwarding, as docker
// does.
func (c SlurmConf) SignalsTree() bool {
	return strings.EqualFold(c.ProctrackType(), "proctrack/linuxproc")
}

// slurmSignalsTree is SignalsTree of the node's slurm.conf, read once and
// only when a signal comes (no scontrol: that could be slow just then).
var slurmSignalsTree = sync.OnceValue(func() bool { return ReadSlurmConf(false).SignalsTree() })

// ForwardsSignals tells whether box run in a Slurm job step passes on to
// the container every signal it gets (see SignalsTree), for box info;
// false: all but those slurmstepd sent to every process of the step
// (sentToTree).
func ForwardsSignals() bool { return !slurmSignalsTree() }

// sentToTree tells whether box's last delivery of s (siginfo.Last) came
// from slurmstepd signalling every process of the job step, the
// container's included, on a node where it does (SignalsTree): scancel -s
// of a step, srun's ^C, the end of the job. A signal from anyone else
// (timeout, a batch script's kill, box kill of box's pid) reached box
// alone. So did what slurmstepd sends the batch step's script alone or
// its process group (scancel -b, scancel -f -s), in which a foreground box
// is but the container, in a session of its own, is not: of the batch
// step's signals only the end of the job's SIGTERM and SIGCONT go to
// every process. A sender box cannot know is not Slurm.
func sentToTree(s os.Signal) bool {
	pid, code, ok := siginfo.Last(s)
	if !ok || code != siginfo.SIUser || pid <= 0 {
		return false
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "slurmstepd" {
		return false
	}
	if s == syscall.SIGTERM || s == syscall.SIGCONT {
		return true
	}
	// slurmstepd's command line names its step: "slurmstepd: [42.batch]".
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && !strings.Contains(string(cmd), ".batch]")
}

// parseKillWait finds KillWait (see parseConfValue) in seconds, or
// returns def.
func parseKillWait(text string, def time.Duration) time.Duration {
	v, ok := parseConfValue(text, "KillWait")
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// parseConfValue finds a key's last value in scontrol's "KillWait = 5 sec"
// or in slurm.conf's "KillWait=5" (keys are case-insensitive, several may
// share a line, # starts a comment).
func parseConfValue(text, key string) (val string, found bool) {
	for _, l := range strings.Split(text, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		for strings.Contains(l, " =") || strings.Contains(l, "= ") {
			l = strings.ReplaceAll(strings.ReplaceAll(l, " =", "="), "= ", "=")
		}
		for _, f := range strings.Fields(l) {
			k, v, ok := strings.Cut(f, "=")
			if ok && strings.EqualFold(k, key) {
				val, found = v, true
			}
		}
	}
	return val, found
}
