package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/volume"
)

func TestImageVolumes(t *testing.T) {
	given := []proto.Mount{
		{Type: "bind", Source: "/h", Target: "/covered"},
		{Type: "volume", Name: "named", Target: "/n"},
		{Type: "volume", Target: "/anon", Anonymous: true},
	}
	ms, err := imageVolumes(given, map[string]struct{}{"/covered": {}, "/var/lib/db/": {}, "cache": {}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 5 {
		t.Fatalf("mounts %+v", ms)
	}
	if ms[1].Name != "named" || volume.ValidName(ms[2].Name) != nil || len(ms[2].Name) != 64 {
		t.Errorf("names %q %q", ms[1].Name, ms[2].Name)
	}
	// The image's, sorted, made absolute and clean, anonymous.
	for i, want := range []string{"/cache", "/var/lib/db"} {
		m := ms[3+i]
		if m.Type != "volume" || m.Target != want || !m.Anonymous || len(m.Name) != 64 {
			t.Errorf("image volume %d: %+v", i, m)
		}
	}
	if _, err := imageVolumes(nil, map[string]struct{}{"/": {}}); err == nil {
		t.Error("VOLUME / accepted")
	}
}

func TestMakeVolumes(t *testing.T) {
	vs := volume.Store{Dir: filepath.Join(t.TempDir(), "volumes")}
	ms := []proto.Mount{
		{Type: "tmpfs", Target: "/t"},
		{Type: "volume", Name: "named", Target: "/n"},
		{Type: "volume", Name: volume.NewName(), Target: "/a", Anonymous: true},
	}
	if err := MakeVolumes(ms, vs); err != nil {
		t.Fatal(err)
	}
	if ms[0].Source != "" {
		t.Errorf("tmpfs got a source: %q", ms[0].Source)
	}
	for _, m := range ms[1:] {
		v, err := vs.Get(m.Name)
		if err != nil || m.Source != v.Mountpoint() || v.Anonymous() != m.Anonymous {
			t.Errorf("%+v: %+v, %v", m, v, err)
		}
	}
	if err := MakeVolumes([]proto.Mount{{Type: "bind", Source: "/x", Target: "/x"}}, volume.Store{Dir: "/nonexistent"}); err != nil {
		t.Errorf("MakeVolumes without volumes: %v", err)
	}
	if _, err := os.Stat("/nonexistent"); err == nil {
		t.Error("MakeVolumes without volumes made the volumes directory")
	}
}
