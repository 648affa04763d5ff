package format

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/volume"
)

// VolumeJSON is docker's volume inspect object (its local driver's: no
// options, scope local).
type VolumeJSON struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

// InspectVolume builds docker's inspect object of a volume.
func InspectVolume(v *volume.Volume) *VolumeJSON {
	return &VolumeJSON{
		CreatedAt:  v.CreatedAt.In(time.Local).Format(time.RFC3339),
		Driver:     "local",
		Labels:     v.Labels,
		Mountpoint: v.Mountpoint(),
		Name:       v.Name,
		Scope:      "local",
	}
}

// VolumeRow is a volume as docker volume ls's --format sees it.
type VolumeRow struct {
	v     *volume.Volume
	inUse bool // a container, running or not, uses it (not dangling)
}

// NewVolumeRow makes v's row.
func NewVolumeRow(v *volume.Volume, inUse bool) *VolumeRow { return &VolumeRow{v: v, inUse: inUse} }

// MarshalJSON is the row as docker volume ls --format json prints it.
func (r *VolumeRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Driver": r.Driver(), "Labels": r.Labels(), "Mountpoint": r.Mountpoint(), "Name": r.Name(), "Scope": r.Scope(),
		"Availability": "N/A", "Group": "N/A", "Links": "N/A", "Size": "N/A", "Status": "N/A",
	})
}

// VolumesColumns check and head volume ls templates.
var VolumesColumns = Columns{
	Zero: &VolumeRow{v: &volume.Volume{}},
	Header: map[string]string{
		"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
		"Labels": "LABELS", "CreatedAt": "CREATED AT",
	},
}

// VolumesTable is docker volume ls's default format.
const VolumesTable = "table {{.Driver}}\t{{.Name}}"

func (r *VolumeRow) Name() string       { return r.v.Name }
func (r *VolumeRow) Driver() string     { return "local" }
func (r *VolumeRow) Scope() string      { return "local" }
func (r *VolumeRow) Mountpoint() string { return r.v.Mountpoint() }
func (r *VolumeRow) CreatedAt() string  { return r.v.CreatedAt.In(time.Local).Format(time.RFC3339) }

// Labels are the volume's labels, "k=v,k2=v2" sorted, as docker's.
func (r *VolumeRow) Labels() string {
	var kv []string
	for k, v := range r.v.Labels {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// Label is one label's value.
func (r *VolumeRow) Label(name string) string { return r.v.Labels[name] }

// MatchVolume applies docker volume ls's filters: dangling=true|false,
// name=SUBSTRING, label=KEY[=VALUE], driver=local. Filters of one key
// match any of their values; different keys must all match.
func MatchVolume(fs []Filter, r *VolumeRow) (bool, error) {
	byKey := map[string][]string{}
	for _, f := range fs {
		byKey[f.Key] = append(byKey[f.Key], f.Value)
	}
	for key, vals := range byKey {
		ok := false
		for _, val := range vals {
			switch key {
			case "dangling":
				b, err := strconv.ParseBool(val)
				if err != nil {
					return false, fmt.Errorf("invalid filter 'dangling=%s': want true or false", val)
				}
				ok = ok || b == !r.inUse
			case "name":
				ok = ok || strings.Contains(r.v.Name, val)
			case "label":
				k, v, hasV := strings.Cut(val, "=")
				got, has := r.v.Labels[k]
				ok = ok || has && (!hasV || got == v)
			case "driver":
				ok = ok || val == "local"
			default:
				return false, fmt.Errorf("invalid filter %q: box volume ls takes dangling, name, label and driver", key)
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
