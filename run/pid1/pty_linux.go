package pid1

import (
	"fmt"
	"os"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// openTTY allocates the container's pty in its own devpts instance, sends the
// master to the monitor (over sockFD) and waits until the monitor has sized it.
// It returns the slave, owned by owner (an id of init's user namespace).
func openTTY(sockFD, owner int) (*os.File, error) {
	ptmx, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err}
	}
	master := os.NewFile(uintptr(ptmx), "ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(ptmx, unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlocking pty: %w", err)
	}
	// TIOCGPTPEER opens the slave without a path lookup in /dev/pts.
	slave, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(ptmx), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil, fmt.Errorf("opening pty slave: %w", errno)
	}
	tty := os.NewFile(slave, "tty")
	unix.Fchown(int(slave), owner, -1)
	sock := os.NewFile(uintptr(sockFD), "tty-socket")
	defer sock.Close()
	if err := proto.SendFD(sock, master); err != nil {
		tty.Close()
		return nil, fmt.Errorf("passing the pty to box: %w", err)
	}
	ack := make([]byte, 1)
	if _, err := sock.Read(ack); err != nil {
		tty.Close()
		return nil, fmt.Errorf("waiting for box to size the pty: %w", err)
	}
	return tty, nil
}

// takeTTY makes tty the controlling terminal and stdio of this process,
// which already leads a session of its own.
func takeTTY(tty *os.File) error {
	if err := unix.IoctlSetInt(int(tty.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("setting the controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(tty.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup2 tty: %w", err)
		}
	}
	return tty.Close()
}
