package run

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestProcUsage adds up a container's processes in a made-up /proc: init
// (10), its child and grandchild, and an orphan reparented to init; not
// box's own processes (1, 5) nor init's parent.
func TestProcUsage(t *testing.T) {
	proc := t.TempDir()
	stat := func(pid, ppid int, comm string, utime, stime, threads, rss int) {
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
		// majflt cmajflt utime stime cutime cstime priority nice
		// num_threads itrealvalue starttime vsize rss
		line := fmt.Sprintf("%d (%s) S %d 1 1 0 -1 0 0 0 0 0 %d %d 0 0 20 0 %d 0 100 1000 %d 0 0\n", pid, comm, ppid, utime, stime, threads, rss)
		os.MkdirAll(filepath.Join(proc, fmt.Sprint(pid)), 0o755)
		os.WriteFile(filepath.Join(proc, fmt.Sprint(pid), "stat"), []byte(line), 0o644)
	}
	stat(1, 0, "systemd", 500, 500, 1, 1000)
	stat(5, 1, "box", 7, 7, 9, 1000)
	stat(10, 5, "box", 100, 50, 8, 100)
	stat(11, 10, "sh) (x", 10, 0, 1, 10) // a name with ") ("
	stat(12, 11, "sleep", 0, 1, 1, 5)
	stat(13, 10, "orphan", 4, 0, 2, 20)
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	u, err := procUsage(proc, 10, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := 165 * 10 * time.Millisecond; u.CPU != want {
		t.Errorf("CPU %v, want %v", u.CPU, want)
	}
	if u.Pids != 12 || u.Memory != 135*uint64(os.Getpagesize()) {
		t.Errorf("%+v", u)
	}
	// Without init (box's helper beside a nested workload).
	u, err = procUsage(proc, 10, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := 15 * 10 * time.Millisecond; u.CPU != want || u.Pids != 4 || u.Memory != 35*uint64(os.Getpagesize()) {
		t.Errorf("without init: %+v", u)
	}
	if _, err := procUsage(proc, 99, false, false); err == nil {
		t.Error("no error for a gone init")
	}
}
