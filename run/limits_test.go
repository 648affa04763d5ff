package run

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestParseLimits(t *testing.T) {
	for _, c := range []struct {
		f    LimitFlags
		want string // the limits, or the error's start
	}{
		{LimitFlags{}, "<nil>"},
		{LimitFlags{Memory: "0", CPUs: "0", PidsLimit: "-1"}, "<nil>"},
		{LimitFlags{PidsLimit: "0"}, "<nil>"},
		{LimitFlags{MemorySwap: "-1"}, "<nil>"},
		{LimitFlags{Memory: "64m"}, "&{Memory:67108864 MemorySwap:0 CPUQuota:0 CPUPeriod:0 Pids:0}"},
		{LimitFlags{Memory: "1g", MemorySwap: "-1"}, "&{Memory:1073741824 MemorySwap:-1 CPUQuota:0 CPUPeriod:0 Pids:0}"},
		{LimitFlags{Memory: "1g", MemorySwap: "2g"}, "&{Memory:1073741824 MemorySwap:2147483648 CPUQuota:0 CPUPeriod:0 Pids:0}"},
		{LimitFlags{CPUs: "0.5", PidsLimit: "100"}, "&{Memory:0 MemorySwap:0 CPUQuota:50000 CPUPeriod:100000 Pids:100}"},
		{LimitFlags{CPUs: "1/4"}, "&{Memory:0 MemorySwap:0 CPUQuota:25000 CPUPeriod:100000 Pids:0}"},
		{LimitFlags{Memory: "12parsecs"}, `invalid --memory "12parsecs"`},
		{LimitFlags{Memory: "-5m"}, `invalid --memory "-5m"`},
		{LimitFlags{Memory: "1m"}, `invalid --memory "1m": the minimum is 6m`},
		{LimitFlags{MemorySwap: "1g"}, "--memory-swap limits memory and swap together"},
		{LimitFlags{Memory: "1g", MemorySwap: "512m"}, `invalid --memory-swap "512m"`},
		{LimitFlags{Memory: "1g", MemorySwap: "lots"}, `invalid --memory-swap "lots"`},
		{LimitFlags{CPUs: "abc"}, `invalid --cpus "abc"`},
		{LimitFlags{CPUs: "-1"}, `invalid --cpus "-1"`},
		{LimitFlags{CPUs: "0.001"}, `invalid --cpus "0.001": the smallest is 0.01`},
		{LimitFlags{CPUs: "100000"}, `invalid --cpus "100000": box may use`},
		{LimitFlags{PidsLimit: "x"}, `invalid --pids-limit "x"`},
	} {
		l, err := ParseLimits(c.f)
		got := fmt.Sprintf("%+v", l)
		if err != nil {
			got = err.Error()
		}
		if len(got) < len(c.want) || got[:len(c.want)] != c.want {
			t.Errorf("ParseLimits(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
}

// A cgroup a killed monitor left is a leftover for box system check, which
// --repair removes; box rm removes it too. Only a directory named as box
// makes them (DIR/box/ID) is ever removed, whatever a record says.
func TestCgroupLeftover(t *testing.T) {
	cs := Containers{Root: filepath.Join(t.TempDir(), "containers")}
	cgroups := t.TempDir()
	ct := &Container{ID: NewID(), Name: "gone", Status: "exited"}
	ct.Cgroup = filepath.Join(cgroups, "box", ct.ID)
	if err := os.MkdirAll(ct.Cgroup, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Create(ct); err != nil {
		t.Fatal(err)
	}
	found, err := cs.Check(CheckOptions{})
	if err != nil || len(found) != 1 || !found[0].Leftover || found[0].Path != ct.Cgroup {
		t.Fatalf("Check = %v, %v", found, err)
	}
	if found, _ = cs.Check(CheckOptions{Repair: true}); len(found) != 1 || !found[0].Repaired {
		t.Fatalf("Check --repair = %v", found)
	}
	if _, err := os.Stat(ct.Cgroup); err == nil {
		t.Error("the leftover cgroup is still there")
	}
	if found, _ = cs.Check(CheckOptions{}); len(found) != 0 {
		t.Errorf("after the repair: %v", found)
	}

	other := &Container{ID: NewID(), Name: "forged", Cgroup: cgroups}
	rm := func(ps ...string) error {
		for _, p := range ps {
			os.RemoveAll(p)
		}
		return nil
	}
	if err := cs.Remove(other, rm); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cgroups); err != nil {
		t.Error("box rm removed a directory that is no cgroup of box's")
	}
}
