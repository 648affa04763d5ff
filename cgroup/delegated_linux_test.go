package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// delegation is the subtree the test user really has, whether or not its
// cgroup v2 has controllers for limits, or the test ends: CI delegates one
// to each test user (.ci/cgroup) and runs the tests in it, so there this
// is a failure; elsewhere a skip that says why.
func delegation(t *testing.T) *Delegation {
	t.Helper()
	d, err := locate(realHost())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI runs the tests in a cgroup v2 subtree delegated to the user (.ci/cgroup), but: %v", err)
		}
		t.Skipf("no cgroup v2 subtree is delegated to this user: %v", err)
	}
	return d
}

// TestDelegatedLeaf makes a container's leaf in the real delegated
// subtree, clones a process straight into it (CLONE_INTO_CGROUP, as box
// clones init), and removes it once the process is gone. The limits go
// only as far as the delegation's controllers: on a hybrid cgroup v1 host
// its cgroup v2 has none, and a limit is refused by name.
func TestDelegatedLeaf(t *testing.T) {
	d := delegation(t)
	t.Logf("delegated: %s (mount %s), controllers %q", d.Dir, d.Mount, d.Controllers)
	var l Limits
	if slices.Contains(d.Controllers, "pids") {
		l.Pids = 7
	}
	if slices.Contains(d.Controllers, "cpu") {
		l.CPUQuota, l.CPUPeriod = 50000, 100000
	}
	if slices.Contains(d.Controllers, "memory") {
		l.Memory = 64 << 20
	}
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	leaf, fd, err := d.Make(id, l)
	if err != nil {
		t.Fatalf("Make: %v", err)
	}
	defer fd.Close()
	if want := filepath.Join(d.Dir, "box", id); leaf != want {
		t.Errorf("leaf %s, want %s", leaf, want)
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	if err := cmd.Start(); err != nil {
		os.Remove(leaf)
		t.Fatalf("starting a process in the leaf: %v", err)
	}
	b2, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := selfCgroup(b2); got != d.rel(leaf) {
		t.Errorf("the process is in cgroup %q, want %q", got, d.rel(leaf))
	}
	if procs, _ := os.ReadFile(filepath.Join(leaf, "cgroup.procs")); strings.TrimSpace(string(procs)) != fmt.Sprint(cmd.Process.Pid) {
		t.Errorf("the leaf's cgroup.procs is %q, want the process's pid %d", procs, cmd.Process.Pid)
	}
	if !slices.Contains(d.Leaves(), id) {
		t.Errorf("Leaves() = %q, without %s", d.Leaves(), id)
	}
	for _, s := range l.settings() {
		got, err := os.ReadFile(filepath.Join(leaf, s.file))
		if err != nil || strings.TrimSpace(string(got)) != s.value {
			t.Errorf("%s: %q, %v; want %q", s.file, got, err, s.value)
		}
	}
	if l.Pids > 0 || l.Memory > 0 {
		if _, err := ReadUsage(leaf); err != nil {
			t.Errorf("ReadUsage: %v", err)
		}
	}
	// A leaf with a process in it cannot go; Remove waits for it to leave.
	cmd.Process.Kill()
	cmd.Wait()
	if err := Remove(leaf); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(leaf); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leaf still there after Remove: %v", err)
	}
	// What the delegation lacks is refused by name, and nothing is made.
	for _, c := range Limitable {
		if slices.Contains(d.Controllers, c) {
			continue
		}
		var want Limits
		switch c {
		case "memory":
			want.Memory = 64 << 20
		case "cpu":
			want.CPUQuota, want.CPUPeriod = 50000, 100000
		case "pids":
			want.Pids = 7
		}
		_, _, err := d.Make(id, want)
		var m *Missing
		if !errors.As(err, &m) || !strings.Contains(m.What, "no "+c+" controller") {
			t.Errorf("Make with a %s limit in a delegation without %s: %v; want a *Missing naming it", c, c, err)
		}
		if _, err := os.Stat(leaf); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused Make left %s", leaf)
		}
	}
}
