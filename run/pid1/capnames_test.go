package pid1

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolveCaps(t *testing.T) {
	if caps, err := ResolveCaps(nil, nil); caps != nil || err != nil {
		t.Errorf("no flags: %v, %v; want nil (the default set)", caps, err)
	}
	var names []string
	for name, c := range capNames {
		if slices.Contains(DefaultCaps, c) {
			names = append(names, name)
		}
	}
	// Each default capability dropped by name is none at all, not the
	// default set again.
	if caps, err := ResolveCaps(nil, names); err != nil || caps == nil || len(caps) != 0 {
		t.Errorf("all dropped by name: %v, %v; want an empty set", caps, err)
	}
	caps, err := ResolveCaps([]string{"cap_net_admin", "NET_RAW"}, []string{"net_raw", "KILL"})
	if err != nil || !slices.Contains(caps, unix.CAP_NET_ADMIN) || !slices.Contains(caps, unix.CAP_NET_RAW) || slices.Contains(caps, unix.CAP_KILL) {
		t.Errorf("add over drop: %v, %v", caps, err)
	}
	if caps, err := ResolveCaps([]string{"ALL"}, []string{"SYS_ADMIN"}); err != nil || len(caps) != len(capNames)-1 || slices.Contains(caps, unix.CAP_SYS_ADMIN) {
		t.Errorf("ALL but SYS_ADMIN: %v, %v", caps, err)
	}
	if caps, err := ResolveCaps([]string{"CHOWN"}, []string{"ALL"}); err != nil || !slices.Equal(caps, []uintptr{unix.CAP_CHOWN}) {
		t.Errorf("only CHOWN: %v, %v", caps, err)
	}
	if _, err := ResolveCaps([]string{"NOPE"}, nil); err == nil {
		t.Error("NOPE taken")
	}
	// A kernel before 5.8 has no CAP_PERFMON (38): refused, not ignored;
	// ALL is what it has.
	old := lastCap
	defer func() { lastCap = old }()
	lastCap = func() (int, error) { return 37, nil }
	if _, err := ResolveCaps([]string{"PERFMON"}, nil); err == nil || !strings.Contains(err.Error(), "CAP_PERFMON is not known to this kernel") {
		t.Errorf("PERFMON on a kernel without it: %v", err)
	}
	if _, err := ResolveCaps([]string{"ALL"}, nil); err != nil {
		t.Errorf("ALL on an older kernel: %v", err)
	}
}
