package run

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ttyHost is the monitor's side of -t: init allocates the pty inside the
// container's own devpts and passes the master here over a socket, so the
// container never sees a host pty, and the host side relays bytes and size.
type ttyHost struct {
	parent, child *os.File // SOCK_SEQPACKET pair; child goes to init as fd 4
	stdin         bool
	out           io.Writer // where the container's terminal output goes
	copied        sync.WaitGroup

	mu      sync.Mutex // master and restore: set by serve, used by signals and close
	master  *os.File
	restore func()
}

// newTTYHost is the host's side of a tty over the socket pair parent,
// child (child goes to init).
func newTTYHost(parent, child *os.File, stdin bool, out io.Writer) *ttyHost {
	t := &ttyHost{parent: parent, child: child, stdin: stdin, out: out, restore: func() {}}
	t.copied.Add(1) // done when the output copy ends, or serve gets no master
	return t
}

// serve receives the master, sizes it, lets init go on, and relays I/O.
func (t *ttyHost) serve(pid int, done chan struct{}, warn io.Writer) {
	t.child.Close()
	master, err := proto.RecvFD(t.parent, "pty-master")
	if err != nil {
		t.copied.Done()
		return // init failed before allocating the tty; it says why
	}
	t.mu.Lock()
	t.master = master
	if term.IsTerminal(int(os.Stdin.Fd())) && t.stdin {
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			t.restore = func() { term.Restore(int(os.Stdin.Fd()), st) }
		}
	}
	t.mu.Unlock()
	t.resize()
	// Init waits for this byte so the workload starts with the right size.
	t.parent.Write([]byte{1})
	go func() {
		defer t.copied.Done()
		io.Copy(t.out, master) // ends with EIO once the container's side is closed
	}()
	if t.stdin {
		go func() {
			io.Copy(master, os.Stdin)
			// EOF on our stdin: pass ^D so the container sees end of input.
			master.Write([]byte{4})
		}()
	}
}

// resize copies the caller's terminal size to the container's pty.
func (t *ttyHost) resize() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.master == nil {
		return
	}
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
			return
		}
	}
}

// input writes box attach's input to the container's terminal.
func (t *ttyHost) input(b []byte) error {
	t.mu.Lock()
	m := t.master
	t.mu.Unlock()
	if m == nil {
		return nil // not yet received: nothing to type into
	}
	_, err := m.Write(b)
	return err
}

// setSize sizes the container's terminal as box attach's.
func (t *ttyHost) setSize(rows, cols uint16) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.master != nil && rows > 0 && cols > 0 {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
}

// drain waits (briefly) for the container's last output to reach stdout.
func (t *ttyHost) drain() {
	ch := make(chan struct{})
	go func() { t.copied.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
	}
}

func (t *ttyHost) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.restore()
	t.parent.Close()
	if t.master != nil {
		t.master.Close()
	}
}
