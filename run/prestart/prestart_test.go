package prestart

import (
	"errors"
	"os"
	"testing"

	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

func TestSpeculate(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--rm", "alpine", "true"}, true},
		{[]string{"--root", "/s", "--config", "/c", "run", "alpine"}, true},
		{[]string{"--debug", "run", "-i", "alpine", "sh"}, true},
		{[]string{"--debug", "run", "-it", "alpine", "sh"}, false}, // init stays for box exec
		{[]string{"run", "--tty", "alpine", "sh"}, false},
		{[]string{"run", "--name", "x", "alpine"}, false},
		{[]string{"run", "--name=x", "alpine"}, false},
		{[]string{"run", "--network", "none", "alpine"}, true},
		{[]string{"run", "--network=slirp", "alpine"}, true},
		{[]string{"pull", "alpine"}, false},
		{[]string{"--root", "run", "pull", "alpine"}, false}, // "run" is --root's value
		{[]string{}, false},
		{[]string{"run", "-d", "alpine"}, false},
		{[]string{"run", "-itd", "alpine"}, false},
		{[]string{"run", "--detach", "alpine"}, false},
		{[]string{"run", "--detach=true", "alpine"}, false},
		{[]string{"run", "--network", "host", "alpine"}, false},
		{[]string{"run", "--network=host", "alpine"}, false},
		{[]string{"run", "--help"}, false},
		{[]string{"run", "--init", "alpine"}, false},
		{[]string{"run", "-p", "8080:80", "nginx"}, false},
		{[]string{"run", "--publish=8080:80", "nginx"}, false},
		{[]string{"run", "-P", "nginx"}, false},
		{[]string{"run", "--userns=keep-id", "alpine"}, false},
		{[]string{"run", "--memory", "1g", "alpine"}, false},
		{[]string{"run", "-m", "1g", "alpine"}, false},
		{[]string{"run", "--cpus=2", "alpine"}, false},
		{[]string{"run", "--cpu-shares", "512", "alpine"}, false},
		{[]string{"run", "--pids-limit", "9", "alpine"}, false},
		{[]string{"run", "alpine", "ls", "-d", "/"}, false}, // a wrong guess: only slower
	} {
		if got := speculate(c.args); got != c.want {
			t.Errorf("speculate(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestFits: the speculative launch (everything passed, a network
// namespace made by init) serves any foreground container in a network
// namespace of its own whose init execs the workload, with the same
// mapping and output, and nothing else.
func TestFits(t *testing.T) {
	m := userns.Mapping{UIDs: []userns.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}, GIDs: []userns.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}}
	other := userns.Mapping{UIDs: []userns.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}}, GIDs: []userns.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}}}
	spec := &Launch{cfg: Config{Stdin: true, TTY: true, Network: "slirp", Ports: true, Out: os.Stdout, ErrOut: os.Stderr, InitMakesNetns: true}, mapping: m.String()}
	plain := &Launch{cfg: Config{Network: "none", Out: os.Stdout, ErrOut: os.Stderr}, mapping: m.String()}
	out, errOut := os.Stdout, os.Stderr
	for i, c := range []struct {
		l    *Launch
		c    Config
		m    userns.Mapping
		want bool
	}{
		{spec, Config{Network: "none", Out: out, ErrOut: errOut}, m, true},
		{spec, Config{Stdin: true, TTY: true, Network: "slirp", Ports: true, Out: out, ErrOut: errOut}, m, true},
		{spec, Config{Network: "host", Out: out, ErrOut: errOut}, m, false},
		{spec, Config{Network: "none", StaysPID1: true, Out: out, ErrOut: errOut}, m, false},
		{plain, Config{Network: "none", StaysPID1: true, Out: out, ErrOut: errOut}, m, true},
		{spec, Config{Network: "none", Out: out, ErrOut: errOut}, other, false},
		{spec, Config{Network: "none", Out: errOut, ErrOut: errOut}, m, false},
		{plain, Config{Network: "none", Out: out, ErrOut: errOut}, m, true},
		{plain, Config{Network: "none", Stdin: true, Out: out, ErrOut: errOut}, m, false},
		{plain, Config{Network: "none", TTY: true, Out: out, ErrOut: errOut}, m, false},
		{plain, Config{Network: "slirp", Out: out, ErrOut: errOut}, m, false},
		{plain, Config{Network: "none", Ports: true, Out: out, ErrOut: errOut}, m, false},
		// A container with limits is cloned into its cgroup: never adopted.
		{plain, Config{Network: "none", Out: out, ErrOut: errOut, Cgroup: os.Stdin}, m, false},
	} {
		if got := c.l.Fits(c.c, c.m); got != c.want {
			t.Errorf("%d: Fits(%+v) = %v, want %v", i, c.c, got, c.want)
		}
	}
	// A speculative launch whose start failed fits nothing, and says so
	// to every caller.
	failed := &Launch{cfg: spec.cfg, mapping: m.String(), starting: make(chan error, 1)}
	failed.starting <- errors.New("newuidmap failed")
	for range 2 {
		if failed.Fits(Config{Network: "none", Out: out, ErrOut: errOut}, m) {
			t.Error("a launch whose start failed fits")
		}
	}
}

// TestNewFailure: a failure half way through New closes what it made
// (here: no descriptors left for the second pipe).
func TestNewFailure(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	// os.Pipe's first use opens the runtime's epoll descriptor.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	// Room for the first pipe only: the next descriptor numbers in use
	// decide, so find the lowest free one and allow two above it.
	fd, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	low := lim
	low.Cur = uint64(fd + 2)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	l, err := New(Config{Network: "none", Out: os.Stdout, ErrOut: os.Stderr})
	unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if err == nil {
		l.Close()
		t.Fatal("New succeeded with room for one pipe")
	}
	// The first pipe's descriptors are free again.
	if fd2, err := unix.Dup(0); err != nil || fd2 != fd {
		t.Errorf("after the failure the lowest free descriptor is %d (%v), want %d", fd2, err, fd)
	} else {
		unix.Close(fd2)
	}
}

// TestNewCgroup: with a cgroup, init's clone goes into it (clone3's
// CLONE_INTO_CGROUP); nothing is started here.
func TestNewCgroup(t *testing.T) {
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	l, err := New(Config{Network: "none", Out: os.Stdout, ErrOut: os.Stderr, Cgroup: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if a := l.Cmd.SysProcAttr; a == nil || !a.UseCgroupFD || a.CgroupFD != int(dir.Fd()) {
		t.Errorf("SysProcAttr %+v", a)
	}
	plain, err := New(Config{Network: "none", Out: os.Stdout, ErrOut: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.Cmd.SysProcAttr != nil {
		t.Errorf("SysProcAttr without a cgroup: %+v", plain.Cmd.SysProcAttr)
	}
}
