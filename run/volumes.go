package run

import (
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/volume"
)

// imageVolumes adds an anonymous volume for each of the image's VOLUME
// paths that no -v, --mount or --tmpfs covers already, as docker does, and
// names every anonymous volume.
func imageVolumes(ms []proto.Mount, vols map[string]struct{}) ([]proto.Mount, error) {
	paths := make([]string, 0, len(vols))
	for p := range vols {
		dst, err := mountTarget(path.Clean("/" + p))
		if err != nil {
			return nil, fmt.Errorf("image VOLUME %q: %w", p, err)
		}
		paths = append(paths, dst)
	}
	sort.Strings(paths)
	taken := map[string]bool{}
	for _, m := range ms {
		taken[m.Target] = true
	}
	for _, dst := range paths {
		if !taken[dst] {
			taken[dst] = true
			ms = append(ms, proto.Mount{Type: "volume", Target: dst, Anonymous: true})
		}
	}
	for i := range ms {
		if ms[i].Type == "volume" && ms[i].Name == "" {
			ms[i].Name = volume.NewName()
		}
	}
	return ms, nil
}

// MakeVolumes creates the volumes that mounts name and are missing (docker
// creates a volume on first use; anonymous ones carry docker's label) and
// points each volume mount at its data directory. Without volume mounts it
// touches nothing.
func MakeVolumes(ms []proto.Mount, vs volume.Store) error {
	for i := range ms {
		m := &ms[i]
		if m.Type != "volume" {
			continue
		}
		var labels map[string]string
		if m.Anonymous {
			labels = map[string]string{volume.AnonymousLabel: ""}
		}
		v, _, err := vs.Create(m.Name, labels)
		if err != nil {
			return err
		}
		m.Source = v.Mountpoint()
	}
	return nil
}

// VolumeUsers returns the ids of the containers, running or not, that
// mount the volume name.
func (c Containers) VolumeUsers(name string) ([]string, error) {
	all, err := c.List()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ct := range all {
		for _, m := range ct.Mounts {
			if m.Type == "volume" && m.Name == name {
				ids = append(ids, ct.ID)
				break
			}
		}
	}
	return ids, nil
}

// VolumesInUse returns the names of the volumes that containers, running
// or not, mount.
func (c Containers) VolumesInUse() (map[string]bool, error) {
	all, err := c.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, ct := range all {
		for _, m := range ct.Mounts {
			if m.Type == "volume" {
				used[m.Name] = true
			}
		}
	}
	return used, nil
}

// RemoveAnonymousVolumes removes the anonymous volumes of a container that
// is gone (rm -v, --rm), except those another container mounts too: docker
// keeps a volume in use.
func (c Containers) RemoveAnonymousVolumes(ct *Container, removeAll func(...string) error) error {
	if c.Volumes.Dir == "" {
		return nil
	}
	for _, m := range ct.Mounts {
		if m.Type != "volume" || !m.Anonymous {
			continue
		}
		users, err := c.VolumeUsers(m.Name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			continue
		}
		if err := c.Volumes.Remove(m.Name, removeAll); err != nil && !errors.Is(err, volume.ErrNotFound) {
			return err
		}
	}
	return nil
}
