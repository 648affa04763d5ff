package pid1

import (
	"os"
	"time"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// servePortRequests is init's half: it runs inside the container's network
// namespace, so its connections to 127.0.0.1 reach the container's servers.
func servePortRequests(sock *os.File) {
	for {
		port, addr, answer, err := proto.RecvPortRequest(sock)
		if err != nil {
			return
		}
		go dialPort(answer, addr, port)
	}
}

// dialPort connects to the container port and sends the socket back on
// answer, or says that nothing listens.
func dialPort(answer *os.File, addr [4]byte, port uint16) {
	defer answer.Close()
	fd, err := dialAddr(addr, port, 5*time.Second)
	if err != nil {
		proto.AnswerPort(answer, -1)
		return
	}
	proto.AnswerPort(answer, fd)
	unix.Close(fd)
}

// dialAddr connects a TCP socket to addr:port within timeout, with plain
// system calls (package net would cost init its start-up; see the
// package doc).
func dialAddr(addr [4]byte, port uint16, timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(port), Addr: addr})
	if err == unix.EINPROGRESS {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		deadline := time.Now().Add(timeout)
		var n int
		for {
			n, err = unix.Poll(pfd, int(max(time.Until(deadline).Milliseconds(), 0)))
			if err != unix.EINTR {
				break
			}
		}
		switch {
		case err != nil:
		case n == 0:
			err = unix.ETIMEDOUT
		default:
			var soerr int
			if soerr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soerr != 0 {
				err = unix.Errno(soerr)
			}
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
