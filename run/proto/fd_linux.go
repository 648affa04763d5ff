package proto

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SocketPair makes a connected pair of SOCK_SEQPACKET unix sockets, both
// close-on-exec: the host keeps parent and hands child to init (through
// exec.Cmd.ExtraFiles, which dups it without the flag).
func SocketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating socket pair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child"), nil
}

// SendFD sends f over sock with SCM_RIGHTS, with one byte of data.
func SendFD(sock *os.File, f *os.File) error {
	return SendFDByte(int(sock.Fd()), 0, int(f.Fd()))
}

// SendFDByte sends b on the socket sock and, unless fd is negative, the
// descriptor fd.
func SendFDByte(sock int, b byte, fd int) error {
	var fds []int
	if fd >= 0 {
		fds = []int{fd}
	}
	return sendmsg(sock, []byte{b}, fds)
}

// ErrNoFD is returned when a message came without the descriptor it should
// carry.
var ErrNoFD = errors.New("no file descriptor received")

// RecvFD receives one descriptor sent with SendFD (or SendFDByte), as a
// file called name; a message without one is ErrNoFD.
func RecvFD(sock *os.File, name string) (*os.File, error) {
	_, f, err := RecvFDByte(int(sock.Fd()), name)
	return f, err
}

// RecvFDByte receives, on the socket sock, a byte and the descriptor that came with it, if any
// (nil then, with ErrNoFD). Extra descriptors are closed.
func RecvFDByte(sock int, name string) (byte, *os.File, error) {
	fds, data, err := recvFDs(sock, 1, 1)
	if err != nil {
		return 0, nil, err
	}
	var b byte
	if len(data) > 0 {
		b = data[0]
	}
	if len(fds) == 0 {
		return b, nil, ErrNoFD
	}
	return b, os.NewFile(uintptr(fds[0]), name), nil
}

// recvFDs receives one message of at most n bytes with at most max
// descriptors (close-on-exec); descriptors past max are closed.
func recvFDs(sock, n, max int) (fds []int, data []byte, err error) {
	buf := make([]byte, n)
	oob := make([]byte, unix.CmsgSpace(max*4))
	for {
		var m, oobn int
		m, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if m == 0 && oobn == 0 {
			return nil, nil, errEOF
		}
		data = buf[:m]
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			got, err := unix.ParseUnixRights(&msgs[i])
			if err == nil {
				fds = append(fds, got...)
			}
		}
		if len(fds) > max {
			for _, fd := range fds[max:] {
				unix.Close(fd)
			}
			fds = fds[:max]
		}
		return fds, data, nil
	}
}

var errEOF = errors.New("connection closed")

// sendmsg sends without raising SIGPIPE (MSG_NOSIGNAL): init passes the
// SIGPIPEs it gets on to the workload.
func sendmsg(fd int, data []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err := unix.Sendmsg(fd, data, oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			return err
		}
	}
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// readFull reads len(b) bytes, retrying reads a signal interrupted (a
// receive timeout on the socket makes them fail with EINTR).
func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errEOF
		}
		b = b[n:]
	}
	return nil
}

func closeFD(fd int) { unix.Close(fd) }
