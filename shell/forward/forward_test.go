package forward

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/box-run/box/internal/testfd"
	"github.com/box-run/box/shell"

	"golang.org/x/sys/unix"
)

// proxied starts an echo server on a unix socket (the host's agent) and a
// Proxy forwarding to it; it returns the forward's socket.
func proxied(t *testing.T) string {
	run, _ := proxiedAs(t, "agent", nil)
	return filepath.Join(run, "agent")
}

// proxiedAs starts an echo server and a Proxy forwarding to it from name
// in a run directory (with X11's), with copies; it returns the run
// directory and the Proxy's stop.
func proxiedAs(t *testing.T, name string, copies []shell.Forward) (run string, stop func()) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.sock")
	l, err := net.Listen("unix", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	testfd.Echo(l)
	run = filepath.Join(dir, "run")
	if err := os.MkdirAll(shell.X11RunDir(run), 0o700); err != nil {
		t.Fatal(err)
	}
	stop, err = Proxy(run, shell.Enter{Forwards: []shell.Forward{{Name: name, Target: target}}, Copies: copies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return run, stop
}

// TestProxyCapsConnections: a container holding maxConns connections to
// a forward gets the next one closed, and a new one served once one of
// its own ends. (Each connection held two goroutines and two descriptors
// of box's, without a bound.)
func TestProxyCapsConnections(t *testing.T) {
	sock := proxied(t)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range maxConns {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if err := testfd.Ask(c, fmt.Sprint(i)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	extra, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := testfd.Ask(extra, "one too many"); err == nil {
		t.Fatalf("connection %d was served: no cap", maxConns+1)
	}
	extra.Close()
	held[0].Close()
	held = held[1:]
	// The slot frees once both directions of the splice end.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		err = testfd.Ask(c, "again")
		if err == nil {
			held = append(held, c)
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one of %d ended: %v", maxConns, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProxyOutlivesEMFILE runs the proxy out of descriptors while a
// connection waits to be accepted: once descriptors are free again, that
// connection and later ones are served. (The accept loop ended on the
// first error, leaving the forward dead for the enter's life.)
func TestProxyOutlivesEMFILE(t *testing.T) {
	sock := proxied(t)
	roundTrip := func(msg string) error {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return err
		}
		defer c.Close()
		return testfd.Ask(c, msg)
	}
	if err := roundTrip("before"); err != nil {
		t.Fatalf("before running out of descriptors: %v", err)
	}
	// The client socket is made first; then the limit drops to the lowest
	// free descriptor, so that nothing in this process can open one, and
	// the client connects: the accept that follows fails with EMFILE.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)                                                   // the first exchange's descriptors close
	testfd.WhileOut(t, func() { testfd.Connect(t, fd, &unix.SockaddrUnix{Name: sock}) }) // accept fails meanwhile
	c := testfd.FileConn(t, fd)
	if err := testfd.Ask(c, "waited"); err != nil {
		t.Errorf("the connection made while out of descriptors: %v", err)
	}
	if err := roundTrip("after"); err != nil {
		t.Errorf("a connection after: %v", err)
	}
}

// TestProxyDisplay: an X11 display is forwarded into the run directory's
// X11-unix (the shell's /tmp/.X11-unix), and an Xauthority copy is
// written from its data, not its file; both go when the enter ends.
func TestProxyDisplay(t *testing.T) {
	run, stop := proxiedAs(t, "X11-unix/X42", []shell.Forward{{Name: "Xauthority.42", Target: "/nonexistent", Data: []byte("wild")}})
	c, err := net.Dial("unix", filepath.Join(run, "X11-unix", "X42"))
	if err != nil {
		t.Fatal(err)
	}
	if err := testfd.Ask(c, "x"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b, err := os.ReadFile(filepath.Join(run, "Xauthority.42")); err != nil || string(b) != "wild" {
		t.Fatalf("copy: %q, %v", b, err)
	}
	stop()
	for _, p := range []string{"X11-unix/X42", "Xauthority.42"} {
		if _, err := os.Lstat(filepath.Join(run, p)); err == nil {
			t.Errorf("%s left after the enter", p)
		}
	}
}
