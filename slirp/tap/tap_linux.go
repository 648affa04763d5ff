package tap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

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
	if cfg.Addr == [4]byte{} || cfg.Gateway == [4]byte{} || cfg.Bits < 1 || cfg.Bits > 30 || cfg.MTU == 0 {
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

// configure sets the MTU, address, state and default route of the TAP:
// ioctls for the device, one rtnetlink request for the route.
func configure(cfg Config) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("configuring %s: %w", Name, err)
	}
	defer unix.Close(fd)
	set := func(what string, req uint, fill func(*unix.Ifreq) error) error {
		ifr, err := unix.NewIfreq(Name)
		if err == nil {
			err = fill(ifr)
		}
		if err == nil {
			err = unix.IoctlIfreq(fd, req, ifr)
		}
		if err != nil {
			return fmt.Errorf("setting the %s of %s: %w", what, Name, err)
		}
		return nil
	}
	mask := net4Mask(cfg.Bits)
	if err := set("MTU", unix.SIOCSIFMTU, func(r *unix.Ifreq) error { r.SetUint32(uint32(cfg.MTU)); return nil }); err != nil {
		return err
	}
	if err := set("address", unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(cfg.Addr[:]) }); err != nil {
		return err
	}
	if err := set("netmask", unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr(mask[:]) }); err != nil {
		return err
	}
	if err := linkUp(fd, Name); err != nil {
		return err
	}
	ifr, err := unix.NewIfreq(Name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("finding %s: %w", Name, err)
	}
	if err := addDefaultRoute(int(ifr.Uint32()), cfg.Gateway); err != nil {
		return fmt.Errorf("adding default route via %d.%d.%d.%d: %w", cfg.Gateway[0], cfg.Gateway[1], cfg.Gateway[2], cfg.Gateway[3], err)
	}
	return nil
}

func net4Mask(bits int) [4]byte {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// linkUp sets IFF_UP on the interface name.
func linkUp(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading the flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting %s up: %w", name, err)
	}
	return nil
}

// addDefaultRoute sends RTM_NEWROUTE for 0.0.0.0/0 via gw on the interface
// index and waits for the kernel's acknowledgement.
func addDefaultRoute(index int, gw [4]byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(data)+3)
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		b = append(b, data...)
		for len(b)%unix.RTA_ALIGNTO != 0 {
			b = append(b, 0)
		}
		return b
	}
	oif := binary.NativeEndian.AppendUint32(nil, uint32(index))
	body := []byte{unix.AF_INET, 0, 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST, 0, 0, 0, 0} // struct rtmsg
	body = append(body, attr(unix.RTA_GATEWAY, gw[:])...)
	body = append(body, attr(unix.RTA_OIF, oif)...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence number
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return syscall.Errno(errno)
			}
			return nil
		}
	}
	return errors.New("no acknowledgement from the kernel")
}

// LoopbackUp brings lo up in the current network namespace: a container
// without a network still has a working 127.0.0.1.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	defer unix.Close(fd)
	return linkUp(fd, "lo")
}
