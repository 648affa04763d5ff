package cli

import (
	"testing"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/run"
)

func TestMergeLimits(t *testing.T) {
	cur := &cgroup.Limits{Memory: 64 << 20, MemorySwap: 128 << 20, Pids: 50, CPUQuota: 50000, CPUPeriod: 100000}
	parse := func(f run.LimitFlags) *cgroup.Limits {
		l, err := run.ParseLimits(f)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	f := run.LimitFlags{PidsLimit: "100"}
	got := mergeLimits(cur, parse(f), f)
	if got.Pids != 100 || got.Memory != cur.Memory || got.MemorySwap != cur.MemorySwap || got.CPUQuota != cur.CPUQuota {
		t.Errorf("pids only: %+v", got)
	}
	f = run.LimitFlags{Memory: "256m"}
	got = mergeLimits(cur, parse(f), f)
	if got.Memory != 256<<20 || got.MemorySwap != 0 || got.Pids != 50 {
		t.Errorf("memory: %+v (a new memory drops the old swap total, as docker's default)", got)
	}
	f = run.LimitFlags{Memory: "0", PidsLimit: "-1", CPUs: "0"}
	if got = mergeLimits(&cgroup.Limits{Memory: 64 << 20, Pids: 5}, parse(f), f); got != nil {
		t.Errorf("all taken away: %+v, want nil", got)
	}
	f = run.LimitFlags{CPUs: "1.5"}
	if got = mergeLimits(nil, parse(f), f); got == nil || got.CPUQuota != 150000 || got.CPUPeriod != 100000 {
		t.Errorf("cpus on none: %+v", got)
	}
}
