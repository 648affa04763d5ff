package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeOnExecFrom3 marks every descriptor from 3 up close-on-exec:
// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11), else one by one
// from /proc/self/fd.
func closeOnExecFrom3() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
}
