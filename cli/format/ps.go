package format

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/box-run/box/run"
)

// PsTable is docker ps's default format.
const PsTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// ContainerRow is one container as docker ps's --format sees it: its
// methods are docker's field names.
type ContainerRow struct {
	ct    run.Container
	image func() *v1.Config
	trunc bool
	now   time.Time
	// sizes, set for ps -s, are the container's writable layer's and its
	// image's bytes.
	sizes func() (rw, image int64)
}

// WithSizes sets what Size shows (ps -s).
func (r *ContainerRow) WithSizes(sizes func() (rw, image int64)) *ContainerRow {
	r.sizes = sizes
	return r
}

// Size is docker's "2B (virtual 7.8MB)": the bytes the container wrote
// (its writable layer's files) and with its image's; "" without ps -s.
func (r *ContainerRow) Size() string {
	if r.sizes == nil {
		return ""
	}
	rw, img := r.sizes()
	return HumanSize(rw) + " (virtual " + HumanSize(rw+img) + ")"
}

// NewContainerRow makes ct's row. image loads the config of its image
// (nil when gone), called only if a field or filter needs it; trunc
// shortens the id and command as docker ps does without --no-trunc.
func NewContainerRow(ct *run.Container, image func() *v1.Config, trunc bool) *ContainerRow {
	return &ContainerRow{ct: *ct, image: image, trunc: trunc, now: time.Now()}
}

// PsColumns check and head ps templates.
var PsColumns = Columns{
	Zero: &ContainerRow{},
	Header: map[string]string{
		"ID": "CONTAINER ID", "Names": "NAMES", "Size": "SIZE", "Image": "IMAGE", "Command": "COMMAND",
		"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
		"Status": "STATUS", "Labels": "LABELS", "Mounts": "MOUNTS",
		"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
	},
}

func (r *ContainerRow) imageConfig() *v1.Config {
	if r.image == nil {
		return nil
	}
	return r.image()
}

// ID is the container's id, 12 digits unless --no-trunc.
func (r *ContainerRow) ID() string {
	if r.trunc {
		return shortID(r.ct.ID)
	}
	return r.ct.ID
}

// Names is the container's name.
func (r *ContainerRow) Names() string { return r.ct.Name }

// Image is the image name the container was run with.
func (r *ContainerRow) Image() string {
	if r.ct.Image == "" {
		return "<no image>"
	}
	return r.ct.Image
}

// Command is the quoted command line, shortened to 20 characters unless
// --no-trunc.
func (r *ContainerRow) Command() string {
	c := strings.Join(r.ct.Command, " ")
	if r.trunc {
		c = ellipsis(c, 20)
	}
	return strconv.Quote(c)
}

// CreatedAt is when the container was made, in local time.
func (r *ContainerRow) CreatedAt() string { return time.Unix(r.ct.Created.Unix(), 0).String() }

// RunningFor is how long ago the container was made ("5 minutes ago").
func (r *ContainerRow) RunningFor() string { return ago(r.ct.Created, r.now) }

// Ports are the published and exposed ports of a running container.
func (r *ContainerRow) Ports() string {
	if r.ct.Status != "running" {
		return ""
	}
	exposed := map[string]struct{}{}
	if cfg := r.imageConfig(); cfg != nil {
		exposed = exposedPorts(cfg.ExposedPorts)
	}
	for _, k := range r.ct.Expose {
		exposed[k] = struct{}{}
	}
	return displayPorts(r.ct.Ports, exposed)
}

// State is created, running, paused, restarting or exited.
func (r *ContainerRow) State() string {
	if r.ct.Paused {
		return "paused"
	}
	if r.ct.IsRestarting() {
		return "restarting"
	}
	return r.ct.Status
}

// Status is "Up 5 minutes", "Exited (0) 2 hours ago" or "Created".
func (r *ContainerRow) Status() string {
	switch r.ct.Status {
	case "running":
		since := r.ct.StartedAt()
		if since.IsZero() {
			since = r.ct.Created
		}
		if r.ct.Paused {
			return "Up " + HumanDuration(r.now.Sub(since)) + " (Paused)"
		}
		switch r.ct.HealthStatus {
		case "starting":
			return "Up " + HumanDuration(r.now.Sub(since)) + " (health: starting)"
		case "healthy", "unhealthy":
			return "Up " + HumanDuration(r.now.Sub(since)) + " (" + r.ct.HealthStatus + ")"
		}
		return "Up " + HumanDuration(r.now.Sub(since))
	case "exited":
		s := fmt.Sprintf("Exited (%d)", r.ct.ExitCode)
		if r.ct.IsRestarting() {
			s = fmt.Sprintf("Restarting (%d)", r.ct.ExitCode)
		}
		if !r.ct.Finished.IsZero() {
			s += " " + ago(r.ct.Finished, r.now)
		}
		return s
	case "":
		return ""
	}
	return "Created"
}

// Labels are the container's labels (its image's, and --label's over
// them), "k=v" sorted and joined by commas.
func (r *ContainerRow) Labels() string { return joinLabels(r.labels()) }

// Label is the value of one label, "" if it has none.
func (r *ContainerRow) Label(name string) string { return r.labels()[name] }

func (r *ContainerRow) labels() map[string]string {
	var m map[string]string
	if cfg := r.imageConfig(); cfg != nil {
		m = maps.Clone(cfg.Labels)
	}
	if len(r.ct.Labels) > 0 {
		if m == nil {
			m = map[string]string{}
		}
		maps.Copy(m, r.ct.Labels)
	}
	return m
}

func joinLabels(l map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}

// Mounts are the host paths bound into the container and the names of its
// volumes, joined by commas (each shortened to 15 characters unless
// --no-trunc).
func (r *ContainerRow) Mounts() string {
	var out []string
	for _, m := range r.ct.Mounts {
		if m.Source == "" {
			continue
		}
		s := m.Source
		if m.Type == "volume" {
			s = m.Name
		}
		if r.trunc {
			s = ellipsis(s, 15)
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

// LocalVolumes is the number of volumes the container mounts.
func (r *ContainerRow) LocalVolumes() string {
	n := 0
	for _, m := range r.ct.Mounts {
		if m.Type == "volume" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks is the container's network: slirp, none or host.
func (r *ContainerRow) Networks() string {
	if r.ct.Network == nil {
		return ""
	}
	return r.ct.Network.Mode
}

// MarshalJSON is what {{json .}} prints: every field, as docker's.
func (r *ContainerRow) MarshalJSON() ([]byte, error) {
	return marshalRow(map[string]string{
		"ID": r.ID(), "Names": r.Names(), "Image": r.Image(), "Command": r.Command(),
		"CreatedAt": r.CreatedAt(), "RunningFor": r.RunningFor(), "Ports": r.Ports(),
		"State": r.State(), "Status": r.Status(), "Labels": r.Labels(), "Mounts": r.Mounts(),
		"LocalVolumes": r.LocalVolumes(), "Networks": r.Networks(),
	})
}
