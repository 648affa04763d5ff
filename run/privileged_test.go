package run

import (
	"strings"
	"testing"

	"github.com/box-run/box/run/proto"
)

// The host's /dev as --privileged binds it: device nodes only, not the
// terminals nor what the container's /dev has of its own.
func TestHostDevices(t *testing.T) {
	devs := hostDevices("/dev")
	if len(devs) == 0 {
		t.Fatal("no device node found under /dev")
	}
	for _, d := range devs {
		name := strings.TrimPrefix(d.Target, "/dev/")
		switch {
		case d.Source != d.Target:
			t.Errorf("%s bound at %s", d.Source, d.Target)
		case strings.HasPrefix(name, "tty"), name == "console", name == "ptmx", name == "null", name == "urandom":
			t.Errorf("%s is listed", d.Target)
		case strings.HasPrefix(name, "pts/"), strings.HasPrefix(name, "shm/"), strings.HasPrefix(name, "mqueue/"):
			t.Errorf("%s is listed", d.Target)
		}
	}
	asked := []proto.Device{{Source: devs[0].Source, Target: devs[0].Target}}
	if got := withHostDevices(asked, "/dev"); len(got) != len(devs) {
		t.Errorf("with one asked for: %d devices, want %d (no path twice)", len(got), len(devs))
	}
}
