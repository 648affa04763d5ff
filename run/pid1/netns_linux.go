package pid1

import (
	"fmt"
	"os"
	"runtime"

	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/slirp/tap"
	"golang.org/x/sys/unix"
)

// netns is the container's network namespace while init makes it (see
// NetnsEnv). A goroutine locked to a thread of its own unshares it, brings
// lo up and, once the spec is there, the slirp network's TAP, while the
// main thread reads the spec and stacks the layers; the main thread joins it
// (setns) before anything that must see it: sysfs, which shows the
// namespace's devices, a fuse-overlayfs daemon, the workload. Both steps
// take the kernel's rtnl lock, which the teardown of earlier containers'
// namespaces can hold for a while: off the main thread, that wait mostly
// overlaps the mounts. The helper thread is never unlocked, so it ends
// with its goroutine rather than go back to the runtime in another
// namespace.
type netns struct {
	spec   chan *proto.Spec // the spec, so that the network comes up
	done   chan error       // the namespace is made and the network set up
	fd     int              // the namespace, for setns
	joined bool
	err    error
}

// makeNetns starts making the network namespace.
func makeNetns() *netns {
	n := &netns{spec: make(chan *proto.Spec, 1), done: make(chan error, 1), fd: -1}
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			n.done <- fmt.Errorf("creating the network namespace: %w", err)
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			n.done <- &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}
			return
		}
		n.fd = fd
		// lo comes up before the spec does; the spec can only add a TAP
		// (a network of init's own is never "host").
		loErr := tap.LoopbackUp()
		spec := <-n.spec
		if loErr != nil || spec.Network == "none" {
			n.done <- loErr
			return
		}
		n.done <- setupNetwork(spec)
	}()
	return n
}

// start hands the spec over, so that the network comes up in the new
// namespace.
func (n *netns) start(spec *proto.Spec) {
	if n != nil {
		n.spec <- spec
	}
}

// join waits until the namespace and its network are ready and moves the
// calling thread, which must be init's main thread, into it. Later calls
// return the first one's result; with no netns (clone made the namespace)
// it does nothing.
func (n *netns) join() error {
	if n == nil {
		return nil
	}
	if n.joined {
		return n.err
	}
	n.joined = true
	n.err = <-n.done
	if n.fd >= 0 {
		if n.err == nil {
			if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
				n.err = fmt.Errorf("entering the network namespace: %w", err)
			}
		}
		unix.Close(n.fd)
	}
	return n.err
}
