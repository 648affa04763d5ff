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
)

// Alive reports whether pid is still the process that started at start
// (clock ticks after boot, StartTime) in the boot bootID: a reused pid is
// another process, and an exited one not yet reaped is not alive.
func Alive(pid int, start uint64, bootID string) bool {
	if pid <= 0 || bootID != BootID() {
		return false
	}
	if syscall.Kill(pid, 0) != nil || StartTime(pid) != start {
		return false
	}
	// An exited process not yet reaped is not alive (one whose parent was
	// killed may stay so forever under some PID 1s).
	state := State(pid)
	return state != "Z" && state != "X"
}

// State returns the state letter of pid (proc(5) stat), "X" if gone.
func State(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "X"
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields resume after ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}
