package run

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/run/prestart"
)

// Cpuset is docker's --cpuset-cpus and --cpuset-mems: the CPUs and the
// memory (NUMA) nodes the container's processes may run on and allocate
// from, as given ("" = all box may use).
//
// box pins init when it clones it, as taskset and numactl --membind do
// (prestart.Pin), and every process of the container inherits that:
// docker writes a cgroup's cpuset.cpus and cpuset.mems instead, which
// needs the cpuset controller delegated, and systemd does not delegate it
// to users by default. A pin works wherever box runs, in a Slurm job's
// cpuset too; what it does not do is forbid a process in the container to
// widen its own affinity again, within the CPUs box itself may use.
type Cpuset struct {
	CPUs string `json:"cpus,omitempty"`
	Mems string `json:"mems,omitempty"`
}

// ParseCpuset reads --cpuset-cpus and --cpuset-mems as docker does and
// checks them against the CPUs and nodes box may use here; nil when
// neither is given.
func ParseCpuset(cpus, mems string) (*Cpuset, error) {
	if cpus == "" && mems == "" {
		return nil, nil
	}
	c := &Cpuset{CPUs: cpus, Mems: mems}
	if _, err := c.pin(); err != nil {
		return nil, err
	}
	return c, nil
}

// pin is the pin init is cloned with; an error when the lists are not
// docker's syntax or name CPUs or nodes box may not use.
func (c *Cpuset) pin() (*prestart.Pin, error) {
	if c == nil {
		return nil, nil
	}
	p := &prestart.Pin{}
	if c.CPUs != "" {
		want, err := parseList(c.CPUs, 1024)
		if err != nil {
			return nil, fmt.Errorf("invalid --cpuset-cpus %q: want CPU numbers such as 0-3,6", c.CPUs)
		}
		var have unix.CPUSet
		if err := unix.SchedGetaffinity(0, &have); err != nil {
			return nil, fmt.Errorf("reading the CPUs box may use: %w", err)
		}
		var cpus unix.CPUSet
		for _, n := range want {
			if !have.IsSet(n) {
				return nil, fmt.Errorf("requested CPUs are not available - requested %s, available: %s", c.CPUs, formatList(cpuList(&have)))
			}
			cpus.Set(n)
		}
		p.CPUs = &cpus
	}
	if c.Mems != "" {
		want, err := parseList(c.Mems, 1024)
		if err != nil {
			return nil, fmt.Errorf("invalid --cpuset-mems %q: want memory node numbers such as 0-1", c.Mems)
		}
		have, err := allowedMems()
		if err != nil {
			return nil, fmt.Errorf("reading the memory nodes box may use: %w", err)
		}
		for _, n := range want {
			if n >= len(have) || !have[n] {
				var avail []int
				for i, ok := range have {
					if ok {
						avail = append(avail, i)
					}
				}
				return nil, fmt.Errorf("requested memory nodes are not available - requested %s, available: %s", c.Mems, formatList(avail))
			}
			if len(p.Mems) <= n/64 {
				p.Mems = append(p.Mems, make([]uint64, n/64+1-len(p.Mems))...)
			}
			p.Mems[n/64] |= 1 << (n % 64)
		}
	}
	return p, nil
}

// parseList reads docker's list of numbers below limit: "0-3,6", ranges
// and single numbers, in any order; the numbers, each once.
func parseList(s string, limit int) ([]int, error) {
	seen := make(map[int]bool)
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || lo != strconv.Itoa(a) {
			return nil, fmt.Errorf("invalid list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || hi != strconv.Itoa(b) {
				return nil, fmt.Errorf("invalid list %q", s)
			}
		}
		if b >= limit {
			return nil, fmt.Errorf("invalid list %q", s)
		}
		for n := a; n <= b; n++ {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// formatList writes sorted numbers as docker's list, with ranges.
func formatList(ns []int) string {
	var b strings.Builder
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ns[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(ns[j]))
		}
		i = j + 1
	}
	return b.String()
}

// cpuList is the CPUs in s, in order.
func cpuList(s *unix.CPUSet) []int {
	var out []int
	for n := 0; n < 1024; n++ {
		if s.IsSet(n) {
			out = append(out, n)
		}
	}
	return out
}

// allowedMems is the memory nodes box may allocate from: its
// Mems_allowed_list (the online nodes within its cpuset).
func allowedMems() ([]bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Mems_allowed_list:"); ok {
			ns, err := parseList(strings.TrimSpace(v), 1<<16)
			if err != nil {
				return nil, err
			}
			var have []bool
			for _, n := range ns {
				for len(have) <= n {
					have = append(have, false)
				}
				have[n] = true
			}
			return have, nil
		}
	}
	return []bool{true}, nil // a kernel without NUMA: node 0
}

// Repin pins a running container's processes, every thread of init and of
// its descendants, to c's CPUs (box update --cpuset-cpus; nil or no CPUs:
// all box may use). Twice over: a process forked meanwhile by a thread
// not yet pinned is pinned the second time. A running process's memory
// policy is its own to change: --cpuset-mems holds from the next start.
func (ct *Container) Repin(c *Cpuset) error {
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		return err
	}
	if c != nil && c.CPUs != "" {
		p, err := c.pin()
		if err != nil {
			return err
		}
		cpus = *p.CPUs
	}
	if ct.Status != "running" || !proc.Alive(ct.Pid, ct.PidStart, ct.BootID) {
		return nil
	}
	for range 2 {
		children, err := proc.Children()
		if err != nil {
			return err
		}
		for todo := []int{ct.Pid}; len(todo) > 0; {
			p := todo[len(todo)-1]
			todo = append(todo[:len(todo)-1], children[p]...)
			tasks, err := os.ReadDir("/proc/" + strconv.Itoa(p) + "/task")
			if err != nil {
				continue // gone meanwhile
			}
			for _, t := range tasks {
				tid, err := strconv.Atoi(t.Name())
				if err != nil {
					continue
				}
				if err := unix.SchedSetaffinity(tid, &cpus); err != nil && err != unix.ESRCH {
					return fmt.Errorf("pinning process %d of %s: %w", p, ct.Name, err)
				}
			}
		}
	}
	return nil
}
