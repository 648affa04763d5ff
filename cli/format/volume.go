package format

import (
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
