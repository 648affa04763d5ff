// Package testfd is for tests that run a process out of descriptors
// (Exhaust lowers the descriptor limit to the lowest free descriptor, so
// that nothing in the process can open another until it is restored), and
// the two things they do around it: wait for descriptors to settle, and
// ask an echo server.
package testfd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Exhaust lowers RLIMIT_NOFILE to the lowest free descriptor and returns
// a function that restores it (it may be called more than once, and is
// also called when the test ends).
func Exhaust(t testing.TB) (restore func()) {
	t.Helper()
	lowest, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(lowest)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(lowest)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore = func() {
		if !restored {
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
			restored = true
		}
	}
	t.Cleanup(restore)
	return restore
}

// WhileOut runs do (a client connecting) with the process out of
// descriptors (Exhaust), gives what it sets off 100 ms (an accept failing
// with EMFILE), fails the test if the process was not out of descriptors
// after all (the test would prove nothing), and restores the limit.
func WhileOut(t testing.TB, do func()) {
	t.Helper()
	restore := Exhaust(t)
	defer restore()
	do()
	time.Sleep(100 * time.Millisecond)
	if probe, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != unix.EMFILE {
		unix.Close(probe)
		restore()
		t.Fatalf("the process was not out of descriptors (%v): the test proves nothing", err)
	}
}

// Connect connects the socket fd to sa for a WhileOut, failing the test
// (and closing fd) if it cannot.
func Connect(t testing.TB, fd int, sa unix.Sockaddr) {
	t.Helper()
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		t.Fatalf("connecting: %v", err)
	}
}

// FileConn is the connected socket fd as a net.Conn (fd is its now),
// closed when the test ends.
func FileConn(t testing.TB, fd int) net.Conn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "client")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Settle waits until the process's descriptors stop changing (connections
// of an earlier exchange closing), for up to 5 seconds.
func Settle(t testing.TB) {
	t.Helper()
	last, stable := -1, 0
	for i := 0; i < 500 && stable < 10; i++ {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == last {
			stable++
		} else {
			last, stable = len(ents), 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Ask sends msg as a line on c and expects the tests' echo servers'
// answer, "got MSG", within 5 seconds.
func Ask(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if want := "got " + msg; strings.TrimSpace(got) != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// Echo answers each line on each connection of l with "got LINE" (what Ask
// expects), until l is closed.
func Echo(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "got %s", line)
				}
			}()
		}
	}()
}
