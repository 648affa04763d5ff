package slirp

import (
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const tunPath = "/dev/net/tun"

// SetupTAP runs in the container's network namespace, as root of its user
// namespace: it brings lo up, creates tap0 (IFF_TAP|IFF_NO_PI, so one read
// is one bare Ethernet frame), sets its MTU and the container's address,
// brings it up and adds the default route via the gateway. It returns the
// TAP, a blocking file the caller passes to the monitor's Serve; the device
// disappears when the last descriptor for it is closed.
func SetupTAP(cfg Config) (*os.File, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("finding lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("setting lo up: %w", err)
	}

	tap, err := openTAP(TAPName)
	if err != nil {
		return nil, err
	}
	if err := configure(cfg); err != nil {
		tap.Close()
		return nil, err
	}
	return tap, nil
}

// openTAP creates the TAP device name (tuntap(4) TUNSETIFF).
func openTAP(name string) (*os.File, error) {
	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: tunPath, Err: err}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "ioctl TUNSETIFF " + name, Path: tunPath, Err: err}
	}
	// Closing the last descriptor of a non-persistent TAP unregisters the
	// device in that close(2), which waits for RCU grace periods: tens of
	// milliseconds added to every container's exit, paid by the monitor.
	// A persistent TAP is instead removed with its network namespace, which
	// the kernel tears down in the background once the container is gone.
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "ioctl TUNSETPERSIST " + name, Path: tunPath, Err: err}
	}
	return os.NewFile(uintptr(fd), tunPath), nil
}

// configure sets the MTU, address, state and default route of tap0.
func configure(cfg Config) error {
	link, err := netlink.LinkByName(TAPName)
	if err != nil {
		return fmt.Errorf("finding %s: %w", TAPName, err)
	}
	if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
		return fmt.Errorf("setting MTU %d on %s: %w", cfg.MTU, TAPName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   cfg.Container.AsSlice(),
		Mask: net.CIDRMask(cfg.Subnet.Bits(), 32),
	}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding address %s to %s: %w", addr.IPNet, TAPName, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", TAPName, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: cfg.Gateway.AsSlice()}
	if err := netlink.RouteAdd(r); err != nil {
		return fmt.Errorf("adding default route via %s: %w", cfg.Gateway, err)
	}
	return nil
}

// LoopbackUp brings lo up in the current network namespace: a container
// without a network still has a working 127.0.0.1.
func LoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}
