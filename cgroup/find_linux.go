//go:build linux

package cgroup

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Find finds the cgroup v2 subtree delegated to the user that box runs
// in (see the package doc), or says in a *Missing what is missing.
// Which controllers it has is the caller's to check (Check, or Make).
func Find() (*Delegation, error) {
	return find(realHost())
}

// realHost is this host, as find reads it.
func realHost() host {
	h := host{uid: os.Getuid(), owner: owner}
	// cgroup v2 alone at /sys/fs/cgroup, or beside v1 in systemd's hybrid
	// layout at /sys/fs/cgroup/unified.
	for i, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			h.mount, h.hybrid = p, i > 0
			break
		}
	}
	h.self, _ = os.ReadFile("/proc/self/cgroup")
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.kernel = unix.ByteSliceToString(uts.Release[:])
	}
	return h
}

// owner is the uid that owns path.
func owner(path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return -1, err
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), nil
}
