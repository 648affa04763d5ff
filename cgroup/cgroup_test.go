package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree makes a fake cgroup2 mount: each directory gets the files given,
// cgroup.controllers and cgroup.subtree_control among them.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// owners is a host whose ownership is given by path below the mount,
// root's unless listed.
func owners(mount string, uid int, mine ...string) func(string) (int, error) {
	return func(p string) (int, error) {
		if _, err := os.Stat(p); err != nil {
			return -1, err
		}
		rel := strings.TrimPrefix(p, mount)
		if slices.Contains(mine, rel) {
			return uid, nil
		}
		return 0, nil
	}
}

const userSvc = "/user.slice/user-1000.slice/user@1000.service"

func TestFind(t *testing.T) {
	files := map[string]string{
		"cgroup.controllers":                                       "cpuset cpu io memory hugetlb pids",
		userSvc + "/cgroup.controllers":                            "cpu memory pids",
		userSvc + "/app.slice/cgroup.controllers":                  "cpu memory pids",
		userSvc + "/app.slice/run-1.scope/cgroup.procs":            "",
		"/user.slice/user-1000.slice/session-3.scope/cgroup.procs": "",
	}
	mount := tree(t, files)
	mine := []string{userSvc, userSvc + "/app.slice", userSvc + "/app.slice/run-1.scope"}
	h := host{mount: mount, uid: 1000, owner: owners(mount, 1000, mine...)}

	// From a scope in the user's manager, up to user@1000.service.
	h.self = []byte("0::" + userSvc + "/app.slice/run-1.scope\n")
	d, err := find(h)
	if err != nil {
		t.Fatal(err)
	}
	if d.Dir != mount+userSvc || d.Self != mount+userSvc+"/app.slice/run-1.scope" {
		t.Errorf("Dir %s, Self %s", d.Dir, d.Self)
	}
	if !slices.Equal(d.Controllers, []string{"cpu", "memory", "pids"}) || d.Check("memory", "cpu", "pids") != nil {
		t.Errorf("controllers %q", d.Controllers)
	}

	// An ssh session's scope is root's: the fix names systemd-run.
	h.self = []byte("0::/user.slice/user-1000.slice/session-3.scope\n")
	_, err = find(h)
	var m *Missing
	if !errors.As(err, &m) || !strings.Contains(m.What, "outside the one systemd delegates to you ("+userSvc+")") || !strings.Contains(m.Fix, "systemd-run --user --scope") {
		t.Errorf("session scope: %v", err)
	}

	// No user manager, and a root-owned cgroup.
	h.owner = owners(mount, 1000)
	if _, err := find(h); !errors.As(err, &m) || !strings.Contains(m.What, "no cgroup v2 subtree is delegated to you") {
		t.Errorf("nothing delegated: %v", err)
	}

	// A kernel without CLONE_INTO_CGROUP.
	h.self = []byte("0::" + userSvc + "/app.slice/run-1.scope\n")
	h.kernel = "5.4.0-150-generic"
	if _, err := find(h); !errors.As(err, &m) || !strings.Contains(m.What, "Linux 5.4.0-150-generic cannot start a process in a given cgroup") {
		t.Errorf("old kernel: %v", err)
	}
	for release, want := range map[string]bool{"5.7.0": true, "6.1.0-rc1": true, "5.6.19": false, "4.18.0-553.el8": false, "": true} {
		if cloneIntoCgroup(release) != want {
			t.Errorf("cloneIntoCgroup(%q) != %v", release, want)
		}
	}
	h.kernel = ""

	// The root cgroup is never the user's.
	h.self = []byte("0::/\n")
	h.owner = func(string) (int, error) { return 1000, nil }
	if _, err := find(h); err == nil {
		t.Error("the root cgroup counted as delegated")
	}
}

func TestFindV1(t *testing.T) {
	var m *Missing
	if _, err := find(host{}); !errors.As(err, &m) || !strings.Contains(m.What, "no cgroup v2") {
		t.Errorf("no cgroup2: %v", err)
	}
	// systemd's hybrid layout: cgroup2 without the controllers v1 holds.
	mount := tree(t, map[string]string{"cgroup.controllers": "hugetlb\n"})
	_, err := find(host{mount: mount, hybrid: true, self: []byte("1:cpu:/\n0::/\n"), owner: owners(mount, 0)})
	if !errors.As(err, &m) || !strings.Contains(m.What, "runs cgroup v1") || !strings.Contains(m.Fix, "systemd.unified_cgroup_hierarchy=1") {
		t.Errorf("hybrid: %v", err)
	}
}

func TestCheckNames(t *testing.T) {
	d := &Delegation{Mount: "/sys/fs/cgroup", Dir: "/sys/fs/cgroup" + userSvc, Controllers: []string{"memory", "pids"}}
	err := d.Check("memory", "cpu")
	if err == nil || !strings.Contains(err.Error(), "("+userSvc+") has no cpu controller") {
		t.Errorf("Check: %v", err)
	}
}

func TestSelfCgroup(t *testing.T) {
	for text, want := range map[string]string{
		"0::/a/b\n": "/a/b",
		"12:pids:/x\n1:name=systemd:/y\n0::/z/../w\n": "/w",
		"4:memory:/q\n": "",
	} {
		got, ok := selfCgroup([]byte(text))
		if got != want || ok != (want != "") {
			t.Errorf("selfCgroup(%q) = %q, %v", text, got, ok)
		}
	}
}

func TestSettings(t *testing.T) {
	for _, c := range []struct {
		l    Limits
		want []string
	}{
		{Limits{}, nil},
		{Limits{Memory: 64 << 20}, []string{"memory.max=67108864", "memory.swap.max=67108864?"}},
		{Limits{Memory: 64 << 20, MemorySwap: -1}, []string{"memory.max=67108864", "memory.swap.max=max"}},
		{Limits{Memory: 64 << 20, MemorySwap: 100 << 20}, []string{"memory.max=67108864", "memory.swap.max=37748736"}},
		{Limits{CPUQuota: 150000, CPUPeriod: 100000, Pids: 20}, []string{"cpu.max=150000 100000", "pids.max=20"}},
		// docker's --cpu-quota alone takes the kernel's period, and
		// --cpu-period alone keeps the quota unlimited.
		{Limits{CPUQuota: 50000, CPUExplicit: true}, []string{"cpu.max=50000 100000"}},
		{Limits{CPUPeriod: 250000, CPUExplicit: true}, []string{"cpu.max=max 250000"}},
		{Limits{CPUShares: 512}, []string{"cpu.weight=59"}},
		{Limits{MemoryLow: 32 << 20}, []string{"memory.low=33554432"}},
	} {
		var got []string
		for _, s := range c.l.settings() {
			v := s.file + "=" + s.value
			if s.optional {
				v += "?"
			}
			got = append(got, v)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.l, got, c.want)
		}
		if len(c.l.Controllers()) == 0 != (len(c.want) == 0) {
			t.Errorf("%+v: controllers %q", c.l, c.l.Controllers())
		}
	}
}

// TestApply runs Apply (box update) on a tree of plain files: every
// limit file the leaf has is set, to the default where l sets nothing,
// and a controller the leaf lacks is left alone.
func TestApply(t *testing.T) {
	mount := tree(t, map[string]string{
		"c/memory.max": "1073741824", "c/memory.swap.max": "max", "c/memory.low": "1048576",
		"c/cpu.max": "50000 100000", "c/cpu.weight": "20",
	})
	if err := Apply(mount+"/c", Limits{Memory: 64 << 20, MemorySwap: -1, CPUShares: 2048}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "max", "memory.low": "0",
		"cpu.max": "max 100000", "cpu.weight": "174",
	} {
		if b, _ := os.ReadFile(mount + "/c/" + f); string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
	if _, err := os.Stat(mount + "/c/pids.max"); err == nil {
		t.Error("Apply made pids.max, which the leaf did not have")
	}
}

// TestMake runs Make on a tree of plain files: the order of its steps and
// what it writes, not the kernel's part.
func TestMake(t *testing.T) {
	mount := tree(t, map[string]string{
		"cgroup.controllers":                    "cpu memory pids",
		userSvc + "/cgroup.controllers":         "cpu memory pids",
		userSvc + "/cgroup.subtree_control":     "memory",
		userSvc + "/box/cgroup.subtree_control": "",
		userSvc + "/box/c1/memory.max":          "max",
		userSvc + "/box/c1/pids.max":            "max",
		userSvc + "/box/c1/cpu.max":             "max 100000",
	})
	d := &Delegation{Mount: mount, Dir: mount + userSvc, Controllers: []string{"cpu", "memory", "pids"}}
	dir, fd, err := d.Make("c1", Limits{Memory: 1 << 30, Pids: 7, CPUQuota: 50000, CPUPeriod: 100000})
	if err != nil {
		t.Fatal(err)
	}
	fd.Close()
	for f, want := range map[string]string{
		userSvc + "/cgroup.subtree_control":     "+cpu +pids",
		userSvc + "/box/cgroup.subtree_control": "+memory +cpu +pids",
		userSvc + "/box/c1/memory.max":          "1073741824",
		userSvc + "/box/c1/pids.max":            "7",
		userSvc + "/box/c1/cpu.max":             "50000 100000",
	} {
		if b, _ := os.ReadFile(mount + f); string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
		t.Error("memory.swap.max made where the kernel has none")
	}
	if got := d.Leaves(); !slices.Equal(got, []string{"c1"}) {
		t.Errorf("Leaves = %q", got)
	}
	// A limit whose file is missing fails, and the leaf goes.
	if _, _, err := d.Make("c2", Limits{Pids: 3}); err == nil {
		t.Error("Make wrote into a missing pids.max")
	}
	if _, err := os.Stat(mount + userSvc + "/box/c2"); err == nil {
		t.Error("a failed Make left its leaf")
	}
	// A controller the delegation lacks is refused before anything.
	d.Controllers = []string{"pids"}
	if _, _, err := d.Make("c3", Limits{Memory: 1 << 30}); err == nil || !strings.Contains(err.Error(), "no memory controller") {
		t.Errorf("Make without memory: %v", err)
	}
}

func TestReadUsage(t *testing.T) {
	dir := tree(t, map[string]string{
		"cpu.stat":       "usage_usec 2500000\nuser_usec 2000000\n",
		"memory.current": "10485760\n",
		"memory.stat":    "anon 4096\ninactive_file 1048576\n",
		"memory.max":     "max\n",
		"pids.current":   "3\n",
	})
	u, err := ReadUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU.Seconds() != 2.5 || u.Memory != 9<<20 || u.MemoryLimit != 0 || u.Pids != 3 {
		t.Errorf("%+v", u)
	}
	os.Remove(filepath.Join(dir, "memory.current"))
	if _, err := ReadUsage(dir); err == nil {
		t.Error("no error without memory.current")
	}
}
