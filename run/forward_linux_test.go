package run

import (
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/box-run/box/internal/testfd"

	"golang.org/x/sys/unix"
)

// TestPublishedPortOutlivesEMFILE runs the monitor's side of a published
// port out of descriptors while a connection waits to be accepted: once
// descriptors are free again, that connection and later ones are served.
// (An accept loop that ended on the first error left the port open on the
// host and dead for the rest of the container's life.)
func TestPublishedPortOutlivesEMFILE(t *testing.T) {
	echo := lineEcho(t)
	sock := answerPorts(t, echo)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := &forwarder{sock: sock, log: slog.New(slog.DiscardHandler)}
	go f.serve(l, 80)
	if err := roundTrip(l.Addr().String(), "before"); err != nil {
		t.Fatalf("before running out of descriptors: %v", err)
	}

	// The client socket is made first; then the limit drops to the lowest
	// free descriptor, so that nothing in this process can open one, and
	// the client connects: the accept that follows fails with EMFILE.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	testfd.Settle(t)
	port := l.Addr().(*net.TCPAddr).Port
	testfd.WhileOut(t, func() { testfd.Connect(t, fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}) }) // accept fails meanwhile
	c := testfd.FileConn(t, fd)
	if err := testfd.Ask(c, "waited"); err != nil {
		t.Errorf("the connection made while out of descriptors: %v", err)
	}
	if err := roundTrip(l.Addr().String(), "after"); err != nil {
		t.Errorf("a connection after: %v", err)
	}
}

// lineEcho serves "got LINE" for each line on the host's loopback.
func lineEcho(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	testfd.Echo(l)
	return l.Addr().String()
}

// answerPorts plays init's part of the port protocol (package pid1,
// servePortRequests) on a socketpair: for each request it connects to addr
// instead of the container's port and hands the socket back. It returns
// the monitor's end.
func answerPorts(t *testing.T, addr string) *os.File {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The pair stays open for the test binary's life: the forwarder's
	// goroutines, which may still read the monitor's end, are not tracked.
	mine, theirs := os.NewFile(uintptr(fds[0]), "ports"), fds[1]
	go func() {
		var req [2]byte
		oob := make([]byte, unix.CmsgSpace(4))
		for {
			n, oobn, _, _, err := unix.Recvmsg(theirs, req[:], oob, unix.MSG_CMSG_CLOEXEC)
			if err != nil || n == 0 {
				return
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				continue
			}
			answer, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(answer) != 1 {
				continue
			}
			_ = binary.BigEndian.Uint16(req[:]) // the container port
			go func(answer int) {
				defer unix.Close(answer)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					unix.Sendmsg(answer, []byte{1}, nil, nil, 0)
					return
				}
				defer c.Close()
				f, _ := c.(*net.TCPConn).File()
				defer f.Close()
				unix.Sendmsg(answer, []byte{0}, unix.UnixRights(int(f.Fd())), nil, 0)
			}(answer[0])
		}
	}()
	return mine
}

func roundTrip(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return testfd.Ask(c, msg)
}
