package pid1

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RecvFD receives one file descriptor sent with SCM_RIGHTS.
func RecvFD(sock *os.File) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("no file descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("no file descriptor received")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// SendFD sends f over sock with SCM_RIGHTS.
func SendFD(sock *os.File, f *os.File) error {
	return unix.Sendmsg(int(sock.Fd()), []byte{0}, unix.UnixRights(int(f.Fd())), nil, 0)
}
