package splice

import (
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// kernelHalf copies between two kernel TCP sockets with splice(2), one
// batch of queued bytes at a time: Go's splice holds a pipe from its pool
// for as long as one ReadFrom waits for data, so a ReadFrom that runs
// until the end of the stream would keep two descriptors per direction of
// every idle connection.
func kernelHalf(dst, src *net.TCPConn) error {
	for {
		n, err := queued(src)
		if err != nil {
			return err
		}
		if n == 0 {
			closeWrite(dst)
			return nil
		}
		if _, err := dst.ReadFrom(&io.LimitedReader{R: src, N: int64(n)}); err != nil {
			return err
		}
	}
}

// queued waits until c is readable and returns how many bytes are queued
// to be read: 0 means the peer has ended the stream.
func queued(c *net.TCPConn) (int, error) {
	n := 0
	err := peek(c, func(fd int) (err error) {
		n, err = unix.IoctlGetInt(fd, unix.SIOCINQ)
		if n == 0 && err == nil {
			n = 1 // urgent data only; let a read sort it out
		}
		return err
	})
	return n, err
}

// readable waits until a read from c would not block.
func readable(c *net.TCPConn) error { return peek(c, nil) }

// peek waits until c is readable, without taking anything from it, and
// then, if something is queued, calls then (if set) with its descriptor.
func peek(c *net.TCPConn, then func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			m, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false // wait for the poller
			case err != nil:
				serr = err
			case m > 0 && then != nil:
				serr = then(int(fd))
			}
			return true
		}
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: serr}
	}
	return nil
}
