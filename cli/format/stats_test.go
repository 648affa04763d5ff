package format

import (
	"testing"
	"time"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/run"
)

func TestStatsRow(t *testing.T) {
	ct := &run.Container{ID: "0123456789abcdef0123", Name: "web"}
	prev := &cgroup.Usage{CPU: time.Second}
	cur := &cgroup.Usage{CPU: time.Second + 750*time.Millisecond, Memory: 3 << 20, MemoryLimit: 64 << 20, Pids: 4}
	got := *NewStatsRow(ct, "", prev, cur, 500*time.Millisecond, true)
	want := StatsRow{Container: "0123456789ab", ID: "0123456789ab", Name: "web", CPUPerc: "150.00%",
		MemUsage: "3MiB / 64MiB", MemPerc: "4.69%", NetIO: "--", BlockIO: "--", PIDs: "4"}
	if got != want {
		t.Errorf("running:\n got %+v\nwant %+v", got, want)
	}
	// The first sample has no CPU figure; a stopped container has zeros.
	if r := NewStatsRow(ct, "web", nil, cur, 0, false); r.CPUPerc != "--" || r.Container != "web" || r.ID != ct.ID {
		t.Errorf("first sample: %+v", r)
	}
	if r := NewStatsRow(ct, "", nil, nil, 0, true); r.CPUPerc != "0.00%" || r.MemUsage != "0B / 0B" || r.PIDs != "0" {
		t.Errorf("stopped: %+v", r)
	}
}

func TestInspectLimits(t *testing.T) {
	ct := &run.Container{ID: "c", Limits: &cgroup.Limits{Memory: 64 << 20, CPUQuota: 150000, CPUPeriod: 100000, Pids: 9}}
	hc := InspectContainer(ContainerSource{Record: ct}).HostConfig
	if hc.Memory != 64<<20 || hc.MemorySwap != 128<<20 || hc.NanoCpus != 1.5e9 || hc.PidsLimit == nil || *hc.PidsLimit != 9 {
		t.Errorf("%+v", hc)
	}
	hc = InspectContainer(ContainerSource{Record: &run.Container{ID: "d"}}).HostConfig
	if hc.Memory != 0 || hc.NanoCpus != 0 || hc.PidsLimit != nil {
		t.Errorf("no limits: %+v", hc)
	}
}

func TestStatsJSON(t *testing.T) {
	tmpl, err := Parse("{{json .}}")
	if err != nil {
		t.Fatal(err)
	}
	r := NewStatsRow(&run.Container{ID: "0123456789abcdef", Name: "web"}, "", nil, nil, 0, true)
	out, err := tmpl.Render(StatsColumns, []any{r})
	want := `{"BlockIO":"--","CPUPerc":"0.00%","Container":"0123456789ab","ID":"0123456789ab","MemPerc":"0.00%","MemUsage":"0B / 0B","Name":"web","NetIO":"--","PIDs":"0"}` + "\n"
	if err != nil || string(out) != want {
		t.Errorf("got %s, %v\nwant %s", out, err, want)
	}
}
