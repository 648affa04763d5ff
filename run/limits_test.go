package run

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/box-run/box/cgroup"
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
		{LimitFlags{Memory: "64m"}, "Memory=67108864"},
		{LimitFlags{Memory: "1g", MemorySwap: "-1"}, "Memory=1073741824 MemorySwap=-1"},
		{LimitFlags{Memory: "1g", MemorySwap: "2g"}, "Memory=1073741824 MemorySwap=2147483648"},
		{LimitFlags{CPUs: "0.5", PidsLimit: "100"}, "CPUQuota=50000 CPUPeriod=100000 Pids=100"},
		{LimitFlags{CPUs: "1/4"}, "CPUQuota=25000 CPUPeriod=100000"},
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
		{LimitFlags{MemoryReservation: "256m"}, "MemoryLow=268435456"},
		{LimitFlags{Memory: "1g", MemoryReservation: "512m"}, "Memory=1073741824 MemoryLow=536870912"},
		{LimitFlags{MemoryReservation: "0"}, "<nil>"},
		{LimitFlags{Memory: "256m", MemoryReservation: "512m"}, `invalid --memory-reservation "512m": it cannot be above --memory "256m"`},
		{LimitFlags{MemoryReservation: "1m"}, `invalid --memory-reservation "1m": the minimum is 6m`},
		{LimitFlags{MemoryReservation: "x"}, `invalid --memory-reservation "x"`},
		{LimitFlags{CPUShares: "512"}, "CPUShares=512"},
		{LimitFlags{CPUShares: "1"}, "CPUShares=2"},
		{LimitFlags{CPUShares: "1000000"}, "CPUShares=262144"},
		{LimitFlags{CPUShares: "0"}, "<nil>"},
		{LimitFlags{CPUShares: "-5"}, `invalid --cpu-shares "-5"`},
		{LimitFlags{CPUQuota: "50000"}, "CPUQuota=50000 CPUExplicit"},
		{LimitFlags{CPUQuota: "50000", CPUPeriod: "200000"}, "CPUQuota=50000 CPUPeriod=200000 CPUExplicit"},
		{LimitFlags{CPUPeriod: "50000"}, "CPUPeriod=50000 CPUExplicit"},
		{LimitFlags{CPUQuota: "-1"}, "<nil>"},
		{LimitFlags{CPUQuota: "999"}, `invalid --cpu-quota "999"`},
		{LimitFlags{CPUQuota: "-2"}, `invalid --cpu-quota "-2"`},
		{LimitFlags{CPUPeriod: "999"}, `invalid --cpu-period "999"`},
		{LimitFlags{CPUPeriod: "1000001"}, `invalid --cpu-period "1000001"`},
		{LimitFlags{CPUs: "1", CPUQuota: "50000"}, "--cpus cannot be given with --cpu-period or --cpu-quota"},
		{LimitFlags{CPUs: "0", CPUQuota: "50000"}, "CPUQuota=50000 CPUExplicit"},
		{LimitFlags{CPUs: "1", CPUQuota: "-1"}, "CPUQuota=100000 CPUPeriod=100000"},
	} {
		l, err := ParseLimits(c.f)
		got := limitsString(l)
		if err != nil {
			got = err.Error()
		}
		if err == nil && got != c.want || err != nil && !strings.HasPrefix(got, c.want) {
			t.Errorf("ParseLimits(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
}

// limitsString is l's set fields, NAME=VALUE (a flag's NAME alone).
func limitsString(l *cgroup.Limits) string {
	if l == nil {
		return "<nil>"
	}
	var out []string
	v := reflect.ValueOf(*l)
	for i := 0; i < v.NumField(); i++ {
		switch f := v.Field(i); {
		case f.Kind() == reflect.Bool && f.Bool():
			out = append(out, v.Type().Field(i).Name)
		case f.Kind() == reflect.Int64 && f.Int() != 0:
			out = append(out, fmt.Sprintf("%s=%d", v.Type().Field(i).Name, f.Int()))
		}
	}
	return strings.Join(out, " ")
}

func TestCPUWeight(t *testing.T) {
	for shares, want := range map[int64]int64{0: 100, 2: 1, 1024: 100, 262144: 10000, 512: 59, 2048: 174, 1: 1, 1 << 20: 10000} {
		if got := cgroup.CPUWeight(shares); got != want {
			t.Errorf("CPUWeight(%d) = %d, want %d", shares, got, want)
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
