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
		req, answer, err := proto.RecvPortRequest(sock)
		if err != nil {
			return
		}
		go dialPort(answer, req)
	}
}

// dialPort connects to the container port and sends the socket back on
// answer, or says that nothing listens.
func dialPort(answer *os.File, req proto.PortRequest) {
	defer answer.Close()
	typ := unix.SOCK_STREAM
	if req.UDP {
		typ = unix.SOCK_DGRAM // connect(2) only sets where it sends to
	}
	fd, err := dialAddr(typ, req.Addr, req.Port, 5*time.Second)
	if err != nil {
		proto.AnswerPort(answer, -1)
		return
	}
	proto.AnswerPort(answer, fd)
	unix.Close(fd)
}

// dialAddr connects a socket of type typ to addr:port within timeout, with
// plain system calls (package net would cost init its start-up; see the
// package doc).
func dialAddr(typ int, addr [4]byte, port uint16, timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
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
