package tap

import (
	"fmt"
	"net"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const tunPath = "/dev/net/tun"

// Setup runs in the container's network namespace, as root of its user
// namespace: it brings lo up, creates tap0 (IFF_TAP|IFF_NO_PI, so one read
// is one bare Ethernet frame), sets its MTU and the container's address,
// brings it up and adds the default route via the gateway. It returns the
// TAP, a blocking file the caller passes to the monitor's netstack; the
// device goes away with the network namespace.
func Setup(cfg Config) (*os.File, error) {
	if !cfg.Addr.Addr().Is4() || !cfg.Gateway.Is4() || cfg.MTU == 0 {
		return nil, fmt.Errorf("invalid TAP config %+v", cfg)
	}
	if err := LoopbackUp(); err != nil {
		return nil, err
	}
	tap, err := openTAP(Name)
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

// configure sets the MTU, address, state and default route of the TAP.
func configure(cfg Config) error {
	link, err := netlink.LinkByName(Name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", Name, err)
	}
	if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
		return fmt.Errorf("setting MTU %d on %s: %w", cfg.MTU, Name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   cfg.Addr.Addr().AsSlice(),
		Mask: net.CIDRMask(cfg.Addr.Bits(), 32),
	}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding address %s to %s: %w", addr.IPNet, Name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", Name, err)
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
