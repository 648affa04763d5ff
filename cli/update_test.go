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
	merge := func(cur, given *cgroup.Limits, f run.LimitFlags) *cgroup.Limits {
		l, err := mergeLimits(cur, given, f)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	f := run.LimitFlags{PidsLimit: "100"}
	got := merge(cur, parse(f), f)
	if got.Pids != 100 || got.Memory != cur.Memory || got.MemorySwap != cur.MemorySwap || got.CPUQuota != cur.CPUQuota {
		t.Errorf("pids only: %+v", got)
	}
	f = run.LimitFlags{Memory: "96m"}
	got = merge(cur, parse(f), f)
	if got.Memory != 96<<20 || got.MemorySwap != 128<<20 || got.Pids != 50 {
		t.Errorf("memory: %+v (a new memory keeps the swap total, as docker's)", got)
	}
	f = run.LimitFlags{Memory: "256m"}
	if _, err := mergeLimits(cur, parse(f), f); err == nil {
		t.Error("a memory over the swap total already set was taken")
	}
	f = run.LimitFlags{Memory: "64m", MemorySwap: "-1"}
	if got = merge(&cgroup.Limits{Memory: 64 << 20}, parse(f), run.LimitFlags{MemorySwap: "-1"}); got.MemorySwap != -1 || got.Memory != 64<<20 {
		t.Errorf("--memory-swap -1 alone: %+v", got)
	}
	f = run.LimitFlags{Memory: "0", PidsLimit: "-1", CPUs: "0"}
	if got = merge(&cgroup.Limits{Memory: 64 << 20, Pids: 5}, parse(f), f); got != nil {
		t.Errorf("all taken away: %+v, want nil", got)
	}
	f = run.LimitFlags{CPUs: "1.5"}
	if got = merge(nil, parse(f), f); got == nil || got.CPUQuota != 150000 || got.CPUPeriod != 100000 {
		t.Errorf("cpus on none: %+v", got)
	}
	f = run.LimitFlags{CPUShares: "512", MemoryReservation: "32m"}
	if got = merge(cur, parse(f), f); got.CPUShares != 512 || got.MemoryLow != 32<<20 || got.CPUQuota != 50000 || got.Memory != 64<<20 {
		t.Errorf("shares and reservation: %+v", got)
	}
	f = run.LimitFlags{Memory: "16m"}
	if _, err := mergeLimits(&cgroup.Limits{Memory: 64 << 20, MemoryLow: 32 << 20}, parse(f), f); err == nil {
		t.Error("a memory below the reservation already set was taken")
	}
	// The CPU limit is changed with the flags that set it, as docker's.
	f = run.LimitFlags{CPUQuota: "20000"}
	if _, err := mergeLimits(cur, parse(f), f); err == nil {
		t.Error("--cpu-quota changed a limit --cpus set")
	}
	explicit := &cgroup.Limits{CPUQuota: 50000, CPUPeriod: 200000, CPUExplicit: true}
	if got = merge(explicit, parse(f), f); got.CPUQuota != 20000 || got.CPUPeriod != 200000 || !got.CPUExplicit {
		t.Errorf("--cpu-quota on --cpu-quota: %+v", got)
	}
	f = run.LimitFlags{CPUs: "1"}
	if _, err := mergeLimits(explicit, parse(f), f); err == nil {
		t.Error("--cpus changed a limit --cpu-quota set")
	}
	f = run.LimitFlags{CPUQuota: "-1", CPUPeriod: "0"}
	if got = merge(explicit, parse(f), f); got != nil {
		t.Errorf("--cpu-quota -1 --cpu-period 0: %+v, want nil", got)
	}
}
