package pid1

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// servePortRequests is init's half: it runs inside the container's network
// namespace, so its connections to 127.0.0.1 reach the container's servers.
func servePortRequests(sock *os.File) {
	var req [2]byte
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), req[:], oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || n != 2 {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			continue
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			continue
		}
		answer := os.NewFile(uintptr(fds[0]), "port-answer")
		go dialPort(answer, binary.BigEndian.Uint16(req[:]))
	}
}

// dialPort connects to the container port and sends the socket back on
// answer, or a message without one when nothing listens.
func dialPort(answer *os.File, port uint16) {
	defer answer.Close()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		unix.Sendmsg(int(answer.Fd()), []byte{1}, nil, nil, 0)
		return
	}
	f, err := c.(*net.TCPConn).File()
	c.Close()
	if err != nil {
		unix.Sendmsg(int(answer.Fd()), []byte{1}, nil, nil, 0)
		return
	}
	SendFD(answer, f)
	f.Close()
}
