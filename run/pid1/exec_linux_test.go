package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/box-run/box/internal/testfd"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// TestExecServerOutlivesEMFILE runs init's exec server out of descriptors
// while a box exec waits to be accepted: once descriptors are free again,
// that connection and later ones are served. (An accept loop that ended on
// the first error would leave box exec dead for the rest of the
// container's life; a container can use up init's descriptors.)
func TestExecServerOutlivesEMFILE(t *testing.T) {
	dir := t.TempDir()
	l, err := listenExec(dir)
	if err != nil {
		t.Fatal(err)
	}
	// serve's goroutine outlives the test (it is not told to stop), and
	// so does the listening socket it accepts on.
	s := &execServer{spec: &proto.Spec{}, waiting: map[int]conn{}}
	go s.serve(l)
	sock := filepath.Join(dir, proto.ExecSocket)
	client := func() int {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	connect := func(fd int) {
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
			unix.Close(fd)
			t.Fatalf("connecting: %v", err)
		}
	}
	before := client()
	connect(before)
	if err := askExec(before); err != nil {
		t.Fatalf("before running out of descriptors: %v", err)
	}

	// serve now waits in a blocking accept4, which took its descriptor
	// when called. The client sockets are made first; then the limit drops
	// to the lowest free descriptor, so that nothing in this process can
	// open one. The first client takes the waiting accept and holds its
	// descriptor (it sends nothing: its handler waits); the accept that
	// follows fails with EMFILE, and the second client waits meanwhile.
	hold, fd := client(), client()
	defer unix.Close(hold)
	testfd.Settle(t)
	testfd.WhileOut(t, func() { connect(hold); connect(fd) }) // accept fails meanwhile
	if err := askExec(fd); err != nil {
		t.Errorf("the box exec made while out of descriptors: %v", err)
	}
	after := client()
	connect(after)
	if err := askExec(after); err != nil {
		t.Errorf("a box exec after: %v", err)
	}
}

// askExec sends an exec request with an empty body, which the server
// must answer (it is accepted and read) with status 125, "bad exec
// request", within 5 seconds. It closes fd.
func askExec(fd int) error {
	f := os.NewFile(uintptr(fd), "exec")
	defer f.Close()
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if _, err := f.Write([]byte{0, 0, 0, 0}); err != nil {
		return err
	}
	rep, err := proto.ReadExecReply(f)
	if err != nil {
		return err
	}
	if rep.Status != 125 || !strings.Contains(rep.Err, "bad exec request") {
		return fmt.Errorf("unexpected reply: status %d, %q", rep.Status, rep.Err)
	}
	return nil
}
