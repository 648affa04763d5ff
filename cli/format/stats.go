package format

import (
	"fmt"
	"strconv"
	"time"

	"github.com/docker/go-units"

	"github.com/box-run/box/cgroup"
	"github.com/box-run/box/run"
)

// StatsTable is docker stats' default format.
const StatsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// StatsRow is one container as docker stats' --format sees it; {{json .}}
// gives docker's keys. box counts no network or block I/O yet: those are
// "--".
type StatsRow struct {
	Container string // as the user named it, else the short id
	ID        string
	Name      string
	CPUPerc   string
	MemUsage  string
	MemPerc   string
	NetIO     string
	BlockIO   string
	PIDs      string
}

// StatsColumns check and head stats templates.
var StatsColumns = Columns{
	Zero: &StatsRow{},
	Header: map[string]string{
		"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
		"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
	},
}

// NewStatsRow makes ct's row from two samples of its usage taken over d
// (prev nil: the CPU is not known yet); cur nil is a container that does
// not run, shown with zeros as docker does. named is how the user named
// it ("" for all containers); trunc shortens the id.
func NewStatsRow(ct *run.Container, named string, prev, cur *cgroup.Usage, d time.Duration, trunc bool) *StatsRow {
	r := &StatsRow{Container: named, ID: ct.ID, Name: ct.Name, NetIO: "--", BlockIO: "--",
		CPUPerc: "0.00%", MemUsage: "0B / 0B", MemPerc: "0.00%", PIDs: "0"}
	if trunc {
		r.ID = shortID(ct.ID)
	}
	if r.Container == "" {
		r.Container = r.ID
	}
	if cur == nil {
		return r
	}
	if prev == nil || d <= 0 {
		r.CPUPerc = "--"
	} else {
		// docker's figure: 100% is one CPU busy all along.
		r.CPUPerc = fmt.Sprintf("%.2f%%", float64(cur.CPU-prev.CPU)/float64(d)*100)
	}
	r.MemUsage = units.BytesSize(float64(cur.Memory)) + " / " + units.BytesSize(float64(cur.MemoryLimit))
	if cur.MemoryLimit > 0 {
		r.MemPerc = fmt.Sprintf("%.2f%%", float64(cur.Memory)/float64(cur.MemoryLimit)*100)
	}
	r.PIDs = strconv.FormatUint(cur.Pids, 10)
	return r
}

// MarshalJSON is what {{json .}} prints: every field, keys sorted as
// docker's.
func (r *StatsRow) MarshalJSON() ([]byte, error) {
	return marshalRow(map[string]string{
		"BlockIO": r.BlockIO, "CPUPerc": r.CPUPerc, "Container": r.Container, "ID": r.ID, "MemPerc": r.MemPerc,
		"MemUsage": r.MemUsage, "Name": r.Name, "NetIO": r.NetIO, "PIDs": r.PIDs,
	})
}
