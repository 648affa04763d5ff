package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/monitor"
	"github.com/box-run/box/run"
)

type updateCmd struct {
	Restart    string `help:"Restart policy: no, always, unless-stopped, on-failure[:N]; a running container's monitor follows it from its next exit." placeholder:"POLICY"`
	Memory     string `short:"m" help:"Memory limit, a size such as 512m (0: none)." placeholder:"BYTES"`
	MemorySwap signed `help:"Memory and swap together; -1 for unlimited swap." placeholder:"BYTES"`
	CPUs       string `name:"cpus" help:"CPU limit, a number of CPUs such as 1.5 (0: none)." placeholder:"N"`
	PidsLimit  signed `help:"Limit on processes and threads; -1 or 0 for none." placeholder:"N"`
	// docker's names, as run's.
	MemoryReservation string   `name:"memory-reservation" help:"Memory reclaimed from the container last, a size such as 256m (0: none)." placeholder:"BYTES"`
	CPUShares         signed   `name:"cpu-shares" short:"c" help:"CPU weight relative to other containers (1024 or 0: the default weight)." placeholder:"N"`
	CPUPeriod         signed   `name:"cpu-period" help:"CPU period of --cpu-quota, in microseconds." placeholder:"N"`
	CPUQuota          signed   `name:"cpu-quota" help:"CPU time a --cpu-period, in microseconds; -1 for none." placeholder:"N"`
	CpusetCPUs        string   `name:"cpuset-cpus" help:"CPUs to run on, such as 0-3: a running container's processes are pinned at once." placeholder:"LIST"`
	CpusetMems        string   `name:"cpuset-mems" help:"Memory nodes to allocate from, such as 0-1, from the container's next start." placeholder:"LIST"`
	Containers        []string `arg:"" name:"container" predictor:"container" help:"Container names or ids."`
}

// Run changes containers' restart policy and limits, as docker update:
// in their records and start configs for later starts, and at once in a
// running container's cgroup. The limits given replace those fields only.
func (c *updateCmd) Run(g *globals) error {
	flags := run.LimitFlags{Memory: c.Memory, MemorySwap: string(c.MemorySwap), CPUs: c.CPUs, PidsLimit: string(c.PidsLimit),
		MemoryReservation: c.MemoryReservation, CPUShares: string(c.CPUShares), CPUPeriod: string(c.CPUPeriod), CPUQuota: string(c.CPUQuota)}
	limitsGiven := flags != run.LimitFlags{}
	cpusetGiven := c.CpusetCPUs != "" || c.CpusetMems != ""
	if c.Restart == "" && !limitsGiven && !cpusetGiven {
		return withStatus(1, errors.New("you must provide one or more flags when using this command"))
	}
	if c.Restart != "" {
		if _, _, err := monitor.RestartPolicy(c.Restart); err != nil {
			return withStatus(125, err)
		}
	}
	if limitsGiven {
		// Checked before any container is touched; a --memory-swap alone
		// is checked against each container's memory below.
		early := flags
		if early.Memory == "" {
			early.MemorySwap = ""
		}
		given, err := run.ParseLimits(early)
		if err != nil {
			return withStatus(125, err)
		}
		if flags.MemorySwap != "" && flags.Memory == "" {
			given = &cgroup.Limits{Memory: 1}
		}
		if err := run.CheckLimits(nonZero(given)); err != nil {
			return withStatus(125, err)
		}
	}
	if _, err := run.ParseCpuset(c.CpusetCPUs, c.CpusetMems); err != nil {
		return withStatus(125, err)
	}
	return eachContainer(g, c.Containers, func(cs run.Containers, ct *run.Container) error {
		if c.Restart != "" {
			if err := updateRestart(cs, ct, c.Restart); err != nil {
				return err
			}
		}
		if limitsGiven {
			f := flags
			if f.Memory == "" && (f.MemorySwap != "" || f.MemoryReservation != "") && ct.Limits != nil && ct.Limits.Memory > 0 {
				// The swap total and the reservation are checked against it.
				f.Memory = strconv.FormatInt(ct.Limits.Memory, 10)
			}
			given, err := run.ParseLimits(f)
			if err != nil {
				return fmt.Errorf("updating %s: %w", ct.Name, err)
			}
			l, err := mergeLimits(ct.Limits, given, flags)
			if err != nil {
				return fmt.Errorf("updating %s: %w", ct.Name, err)
			}
			if err := cs.UpdateLimits(ct, l); err != nil {
				return fmt.Errorf("updating %s: %w", ct.Name, err)
			}
			if ct.Status == "running" && ct.Cgroup == "" {
				fmt.Fprintf(os.Stderr, "box: note: %s runs without a cgroup of its own: its new limits hold from its next start\n", ct.Name)
			}
		}
		if cpusetGiven {
			var cur run.Cpuset
			if ct.Cpuset != nil {
				cur = *ct.Cpuset
			}
			if c.CpusetCPUs != "" {
				cur.CPUs = c.CpusetCPUs
			}
			if c.CpusetMems != "" {
				cur.Mems = c.CpusetMems
			}
			if err := cs.UpdateCpuset(ct, &cur); err != nil {
				return fmt.Errorf("updating %s: %w", ct.Name, err)
			}
			if c.CpusetMems != "" && ct.Status == "running" {
				fmt.Fprintf(os.Stderr, "box: note: %s's --cpuset-mems holds from its next start (a running process's memory policy is its own)\n", ct.Name)
			}
		}
		cs.Event("update", ct, nil)
		return nil
	})
}

// updateRestart sets the policy in the container's start config, which
// box start and its monitor read; docker refuses one for --rm.
func updateRestart(cs run.Containers, ct *run.Container, policy string) error {
	mode, _, _ := monitor.RestartPolicy(policy)
	if ct.Remove && mode != "no" {
		return fmt.Errorf("container %s: its restart policy cannot be changed: it is removed when it exits (--rm)", ct.Name)
	}
	dir := cs.Dir(ct.ID)
	mc, err := monitor.ReadConfig(dir)
	if err != nil {
		return fmt.Errorf("container %s keeps no start config (box run --rm in the foreground, or an older box): %w", ct.Name, err)
	}
	mc.Restart = policy
	return mc.Persist(dir)
}

// nonZero is l when it sets a limit, else nil (CheckLimits checks
// nothing for limits taken away).
func nonZero(l *cgroup.Limits) *cgroup.Limits {
	if l == nil || len(l.Controllers()) == 0 {
		return nil
	}
	return l
}

// mergeLimits is cur with the fields the flags gave replaced by given's;
// nil when no limit is left. As docker's: a new --memory alone keeps the
// swap total, which it may not exceed.
func mergeLimits(cur, given *cgroup.Limits, f run.LimitFlags) (*cgroup.Limits, error) {
	var l cgroup.Limits
	if cur != nil {
		l = *cur
	}
	if given == nil {
		given = &cgroup.Limits{} // every limit given taken away
	}
	if f.Memory != "" {
		l.Memory = given.Memory
		if f.MemorySwap == "" && l.MemorySwap > 0 && l.Memory > l.MemorySwap {
			return nil, errors.New("--memory should be smaller than the memory and swap limit already set: give --memory-swap too")
		}
		if l.Memory == 0 {
			l.MemorySwap = 0
		}
	}
	if f.MemorySwap != "" {
		l.MemorySwap = given.MemorySwap
	}
	if f.MemoryReservation != "" {
		l.MemoryLow = given.MemoryLow
	}
	if l.Memory > 0 && l.MemoryLow > l.Memory {
		return nil, errors.New("--memory cannot be below the memory reservation already set: give --memory-reservation too")
	}
	// As docker's: the CPU limit set with --cpus, or with --cpu-period and
	// --cpu-quota, is changed with the same flags.
	switch {
	case f.CPUs != "" && l.CPUExplicit && (l.CPUQuota > 0 || l.CPUPeriod > 0):
		return nil, errors.New("--cpus cannot change the limit set with --cpu-quota: give --cpu-quota -1 first")
	case (f.CPUPeriod != "" || f.CPUQuota != "") && !l.CPUExplicit && l.CPUQuota > 0:
		return nil, errors.New("--cpu-period and --cpu-quota cannot change the limit set with --cpus: give --cpus 0 first")
	}
	if f.CPUs != "" {
		l.CPUQuota, l.CPUPeriod, l.CPUExplicit = given.CPUQuota, given.CPUPeriod, false
	}
	if f.CPUPeriod != "" {
		l.CPUPeriod = given.CPUPeriod
	}
	if f.CPUQuota != "" {
		l.CPUQuota = given.CPUQuota
	}
	if f.CPUPeriod != "" || f.CPUQuota != "" {
		l.CPUExplicit = l.CPUQuota > 0 || l.CPUPeriod > 0
	}
	if f.CPUShares != "" {
		l.CPUShares = given.CPUShares
	}
	if f.PidsLimit != "" {
		l.Pids = given.Pids
	}
	if l == (cgroup.Limits{}) {
		return nil, nil
	}
	return &l, nil
}
