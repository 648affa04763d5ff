// Package proc reads what box needs of /proc: this boot's id and a
// process's start time and state, which tell whether a recorded process
// still runs. It imports the standard library only (see package
// cli/quick).
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Alive reports whether pid is still the process that started at start
// (clock ticks after boot, StartTime) in the boot bootID: a reused pid is
// another process, and one that is exiting, or has exited and is not yet
// reaped, is not alive.
func Alive(pid int, start uint64, bootID string) bool {
	if pid <= 0 || bootID != BootID() {
		return false
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	f := statFields(pid)
	if len(f) < 20 {
		return false
	}
	if v, _ := strconv.ParseUint(f[19], 10, 64); v != start {
		return false
	}
	return !gone(f)
}

// gone tells from a process's stat fields (those after the command name)
// whether it has ended: a zombie ("Z", which one whose parent was killed
// may stay forever under some PID 1s), or exiting (the kernel's
// PF_EXITING flag, field 9). A container's init that was killed stays
// exiting while the kernel kills and reaps every other process of its
// PID namespace, after its own command line is gone already.
func gone(f []string) bool {
	if len(f) < 7 || f[0] == "Z" || f[0] == "X" {
		return true
	}
	const pfExiting = 0x4
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return flags&pfExiting != 0
}

// statFields are /proc/PID/stat's fields after the command name (field
// 2, which may hold spaces and parentheses): state first; nil if pid is
// gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// State returns the state letter of pid (proc(5) stat), "X" if gone.
func State(pid int) string {
	f := statFields(pid)
	if len(f) == 0 {
		return "X"
	}
	return f[0]
}

// BootID identifies this boot, so records from before a reboot are stale.
func BootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// StartTime is when pid started, in clock ticks after boot (proc(5),
// /proc/PID/stat field 22); 0 if it cannot be read.
func StartTime(pid int) uint64 {
	f := statFields(pid)
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// Children maps each process to its children, from one reading of /proc.
func Children() (map[int][]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(p)
		if len(f) < 2 {
			continue // gone meanwhile
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	return children, nil
}

// Descendants are the pids of pid's children, their children and so on,
// from one reading of /proc (a process forking meanwhile may be missed:
// callers that kill them read again).
func Descendants(pid int) []int {
	children, err := Children()
	if err != nil {
		return nil
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		out = append(out, p)
	}
	return out
}

// EndTree kills every descendant of the calling process and reaps those
// that become its children (its own, and the orphans it inherits as a
// child subreaper), until none is left or d has passed.
func EndTree(d time.Duration) {
	self := os.Getpid()
	deadline := time.Now().Add(d)
	for {
		KillTree(self)
		left := false
		for _, p := range Descendants(self) {
			var ws syscall.WaitStatus
			if got, _ := syscall.Wait4(p, &ws, syscall.WNOHANG, nil); got != p {
				left = true
			}
		}
		if !left || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// KillTree kills with SIGKILL every descendant of pid (not pid itself),
// reading /proc again until none is left or a second has passed, and
// tells whether none is left. A process killed so forks nothing more.
func KillTree(pid int) bool {
	deadline := time.Now().Add(time.Second)
	for {
		left := Descendants(pid)
		alive := 0
		for _, p := range left {
			if State(p) != "Z" {
				syscall.Kill(p, syscall.SIGKILL)
				alive++
			}
		}
		if alive == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
