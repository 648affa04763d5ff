package run

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/internal/proc"
)

// Usage is what a running container uses now (box stats): its cgroup's
// figures when it has one (--memory, --cpus, --pids-limit), else its
// processes' in /proc. MemoryLimit is the host's memory where none is set,
// as docker shows it.
func (ct *Container) Usage() (cgroup.Usage, error) {
	if ct.Status != "running" || !proc.Alive(ct.Pid, ct.PidStart, ct.BootID) {
		return cgroup.Usage{}, fmt.Errorf("container %s is not running", ct.Name)
	}
	var u cgroup.Usage
	err := errors.New("no cgroup")
	if ct.Cgroup != "" {
		u, err = cgroup.ReadUsage(ct.Cgroup)
	}
	if err != nil { // no cgroup, or one without the memory controller
		// Where init stays beside a nested workload (box run -d, -p), it
		// is box's helper, not the container's: docker counts only what
		// the container runs (1 PIDS for a sleep).
		u, err = procUsage("/proc", ct.Pid, ct.NestedPID || ct.initBeside(), ct.pidHost())
	}
	if err != nil {
		return u, err
	}
	if u.MemoryLimit == 0 {
		u.MemoryLimit = memTotal()
	}
	return u, nil
}

// procStat is what procUsage takes from /proc/PID/stat (proc(5)).
type procStat struct {
	ppid          int
	ticks         uint64 // utime + stime, in USER_HZ
	threads, rssP uint64 // num_threads, rss in pages
}

// procUsage adds up the usage of init (pid) and its descendants: every
// process of the container, since the container's orphans are reparented
// to its init (the reaper of its PID namespace), nested namespaces' too.
// Unlike a match on /proc/PID/ns/pid, the parent links need no ptrace
// access to the processes of the container's other uids. Memory is their
// resident sets added up, which counts shared pages more than once.
//
// With skipInit, init itself is left out and only its descendants count;
// with helpers (--pid host), so are box's helpers among init's children
// (boxHelper), which no PID namespace keeps apart.
func procUsage(proc string, pid int, skipInit, helpers bool) (cgroup.Usage, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return cgroup.Usage{}, err
	}
	stats := map[int]procStat{}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(proc + "/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		st, ok := parseProcStat(b)
		if !ok {
			continue
		}
		stats[p] = st
		children[st.ppid] = append(children[st.ppid], p)
	}
	if _, ok := stats[pid]; !ok {
		return cgroup.Usage{}, errors.New("the container's init is gone")
	}
	var u cgroup.Usage
	var ticks, pages uint64
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		if p != pid && helpers && stats[p].ppid == pid && boxHelper(proc, pid, p) {
			todo = todo[:len(todo)-1]
			continue
		}
		todo = append(todo[:len(todo)-1], children[p]...)
		if p == pid && skipInit {
			continue
		}
		st := stats[p]
		ticks += st.ticks
		pages += st.rssP
		u.Pids += st.threads // as pids.current: tasks, not processes
	}
	// USER_HZ is 100 on every architecture Go supports.
	u.CPU = time.Duration(ticks) * (time.Second / 100)
	u.Memory = pages * uint64(os.Getpagesize())
	return u, nil
}

// boxHelper tells whether p, a child of the container's init, is a
// helper box started rather than a process of the container: a
// fuse-overlayfs daemon holds the container's root in a mount namespace
// of its own, not the container's (init's).
func boxHelper(proc string, initPid, p int) bool {
	mine, err1 := os.Readlink(fmt.Sprintf("%s/%d/ns/mnt", proc, initPid))
	its, err2 := os.Readlink(fmt.Sprintf("%s/%d/ns/mnt", proc, p))
	return err1 == nil && err2 == nil && mine != its
}

// parseProcStat reads /proc/PID/stat, whose command name (field 2) may
// hold spaces and parentheses: the fields resume after the last ")".
func parseProcStat(b []byte) (procStat, bool) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, state
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(k int) uint64 { n, _ := strconv.ParseUint(f[k-3], 10, 64); return n }
	return procStat{ppid: int(num(4)), ticks: num(14) + num(15), threads: num(20), rssP: num(24)}, true
}

// memTotal is the host's memory in bytes (/proc/meminfo's MemTotal).
func memTotal() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
