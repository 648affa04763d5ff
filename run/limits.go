package run

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"github.com/box-run/box/cgroup"
)

// LimitFlags are docker's resource flags as given ("" = not given).
type LimitFlags struct {
	Memory     string // -m, --memory: a size (go-units' RAMInBytes: 512m, 2g)
	MemorySwap string // --memory-swap: memory and swap together, -1 unlimited swap
	CPUs       string // --cpus: a decimal number of CPUs
	PidsLimit  string // --pids-limit: an integer, -1 or 0 unlimited
	// MemoryReservation is --memory-reservation: a size, memory.low.
	MemoryReservation string
	CPUShares         string // --cpu-shares, -c: a relative weight
	CPUPeriod         string // --cpu-period: microseconds
	CPUQuota          string // --cpu-quota: microseconds a period, -1 unlimited
}

// cpuPeriod is docker's cpu.max period for --cpus, in microseconds.
const cpuPeriod = 100000

// minMemory is docker's smallest --memory.
const minMemory = 6 << 20

// ParseLimits reads docker's resource flags as docker does; nil when they
// limit nothing. Whether this host can apply them is CheckLimits'.
func ParseLimits(f LimitFlags) (*cgroup.Limits, error) {
	var l cgroup.Limits
	if f.Memory != "" {
		n, err := memorySize("--memory", f.Memory, "512m or 2g")
		if err != nil {
			return nil, err
		}
		l.Memory = n
	}
	if f.MemorySwap != "" {
		n, err := int64(-1), error(nil)
		if f.MemorySwap != "-1" {
			n, err = units.RAMInBytes(f.MemorySwap)
		}
		if err != nil || n < -1 {
			return nil, fmt.Errorf("invalid --memory-swap %q: want a size such as 1g, or -1 for unlimited swap", f.MemorySwap)
		}
		switch {
		case n > 0 && l.Memory == 0: // -1 alone limits nothing, as docker
			return nil, errors.New("--memory-swap limits memory and swap together: give --memory too")
		case n > 0 && n < l.Memory:
			return nil, fmt.Errorf("invalid --memory-swap %q: it counts memory and swap together, so it cannot be below --memory %q", f.MemorySwap, f.Memory)
		}
		l.MemorySwap = n
	}
	if f.MemoryReservation != "" {
		n, err := memorySize("--memory-reservation", f.MemoryReservation, "256m or 1g")
		if err != nil {
			return nil, err
		}
		if l.Memory > 0 && n > l.Memory {
			return nil, fmt.Errorf("invalid --memory-reservation %q: it cannot be above --memory %q", f.MemoryReservation, f.Memory)
		}
		l.MemoryLow = n
	}
	if f.CPUs != "" {
		quota, err := parseCPUs(f.CPUs)
		if err != nil {
			return nil, err
		}
		if quota > 0 {
			l.CPUQuota, l.CPUPeriod = quota, cpuPeriod
		}
	}
	nano := l.CPUQuota > 0
	if f.CPUPeriod != "" {
		n, err := strconv.ParseInt(f.CPUPeriod, 10, 64)
		if err != nil || n != 0 && (n < 1000 || n > 1000000) {
			return nil, fmt.Errorf("invalid --cpu-period %q: want microseconds from 1000 (1ms) to 1000000 (1s)", f.CPUPeriod)
		}
		if n > 0 {
			l.CPUPeriod, l.CPUExplicit = n, true
		}
	}
	if f.CPUQuota != "" {
		n, err := strconv.ParseInt(f.CPUQuota, 10, 64)
		if err != nil || n < -1 || n >= 0 && n < 1000 && n != 0 {
			return nil, fmt.Errorf("invalid --cpu-quota %q: want microseconds a period, at least 1000 (1ms), or -1 for none", f.CPUQuota)
		}
		if n > 0 {
			l.CPUQuota, l.CPUExplicit = n, true
		}
	}
	if nano && l.CPUExplicit {
		// docker's conflict: both set a limit (a 0 or -1 sets none).
		return nil, errors.New("--cpus cannot be given with --cpu-period or --cpu-quota: they set the same limit")
	}
	if f.CPUShares != "" {
		n, err := strconv.ParseInt(f.CPUShares, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid --cpu-shares %q: want a relative weight such as 512 (1024 is the default)", f.CPUShares)
		}
		// docker raises a weight below 2 and lowers one above 262144.
		if n > 0 {
			l.CPUShares = min(max(n, 2), 262144)
		}
	}
	if f.PidsLimit != "" {
		n, err := strconv.ParseInt(f.PidsLimit, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid --pids-limit %q: want a whole number (-1 for unlimited)", f.PidsLimit)
		}
		if n > 0 {
			l.Pids = n
		}
	}
	if l.Controllers() == nil {
		return nil, nil
	}
	return &l, nil
}

// memorySize reads a memory flag's size (go-units' RAMInBytes, as
// docker): 0 for none, else at least docker's 6m.
func memorySize(flag, s, example string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a size such as %s", flag, s, example)
	}
	if n > 0 && n < minMemory {
		return 0, fmt.Errorf("invalid %s %q: the minimum is 6m", flag, s)
	}
	return n, nil
}

// parseCPUs turns --cpus into cpu.max's quota for cpuPeriod, as docker
// reads it: a rational number of CPUs, to nine decimals, at most the CPUs
// box may use; 0 is no limit.
func parseCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("invalid --cpus %q: want a number of CPUs such as 1.5", s)
	}
	if n := runtime.NumCPU(); r.Cmp(big.NewRat(int64(n), 1)) > 0 {
		return 0, fmt.Errorf("invalid --cpus %q: box may use %d CPUs here", s, n)
	}
	q := new(big.Rat).Mul(r, big.NewRat(cpuPeriod, 1))
	quota := new(big.Int).Quo(q.Num(), q.Denom()).Int64()
	if r.Sign() > 0 && quota < 1000 {
		// The kernel's smallest quota is a millisecond a period.
		return 0, fmt.Errorf("invalid --cpus %q: the smallest is 0.01", s)
	}
	return quota, nil
}

// CheckLimits says, as one line, why this host cannot apply l: what is
// missing and the fix. It reads nothing when l is nil.
func CheckLimits(l *cgroup.Limits) error {
	if l == nil {
		return nil
	}
	d, err := cgroup.Find()
	if err == nil {
		err = d.Check(l.Controllers()...)
	}
	if err != nil {
		names, verb := limitNames(l), "needs"
		if strings.Contains(names, " and ") {
			verb = "need"
		}
		return fmt.Errorf("%s %s a cgroup v2 subtree delegated to you: %w", names, verb, err)
	}
	return nil
}

// limitNames names the flags l came from, for messages.
func limitNames(l *cgroup.Limits) string {
	var names []string
	add := func(on bool, name string) {
		if on {
			names = append(names, name)
		}
	}
	add(l.Memory > 0, "--memory")
	add(l.MemoryLow > 0, "--memory-reservation")
	add(l.CPUQuota > 0 && !l.CPUExplicit, "--cpus")
	add(l.CPUPeriod > 0 && l.CPUExplicit, "--cpu-period")
	add(l.CPUQuota > 0 && l.CPUExplicit, "--cpu-quota")
	add(l.CPUShares > 0, "--cpu-shares")
	add(l.Pids > 0, "--pids-limit")
	if len(names) == 0 {
		return "limits"
	}
	if len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return names[0]
}

// makeCgroup makes the container's cgroup with its limits, and returns a
// descriptor to clone init into (nil without limits) and the clean-up
// that closes it and, once init is gone, removes the cgroup.
func makeCgroup(ct *Container) (fd *os.File, cleanup func() error, err error) {
	if ct.Limits == nil {
		return nil, func() error { return nil }, nil
	}
	d, err := cgroup.Find()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", limitNames(ct.Limits), err)
	}
	dir, fd, err := d.Make(ct.ID, *ct.Limits)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", limitNames(ct.Limits), err)
	}
	ct.Cgroup = dir
	return fd, func() error {
		fd.Close()
		return removeCgroup(ct)
	}, nil
}

// removeCgroup removes the container's cgroup, if it has one; only a
// directory box made for it (DIR/box/ID), whatever the record says.
func removeCgroup(ct *Container) error {
	dir := ct.Cgroup
	if dir == "" || filepath.Base(dir) != ct.ID || filepath.Base(filepath.Dir(dir)) != "box" {
		return nil
	}
	if err := cgroup.Remove(dir); err != nil {
		return err
	}
	ct.Cgroup = ""
	return nil
}

// limitFlag is the flag of each controller's limit.
var limitFlag = map[string]string{"memory": "--memory", "cpu": "--cpus", "pids": "--pids-limit"}

// HostLimits says which of --memory, --cpus and --pids-limit this host
// can apply, in which cgroup, and why not the others (--ulimit always
// works).
func HostLimits() (allowed []string, where string, err error) {
	d, err := cgroup.Find()
	if err != nil {
		return nil, "", err
	}
	var missing []string
	for _, c := range cgroup.Limitable {
		if slices.Contains(d.Controllers, c) {
			allowed = append(allowed, limitFlag[c])
		} else {
			missing = append(missing, c)
		}
	}
	return allowed, d.Dir, d.Check(missing...)
}
