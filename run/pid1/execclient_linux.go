package pid1

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ExecOptions are box exec's side of a request.
type ExecOptions struct {
	Request proto.ExecRequest
	// Stdin, Stdout and Stderr are the caller's. Without a tty the process
	// gets pipes that Exec copies to and from them, never the descriptors
	// themselves (see run's relay for why).
	Stdin, Stdout, Stderr *os.File
	// Interactive relays stdin to the process's tty (with Request.TTY).
	Interactive bool
	// Detach returns once the process started.
	Detach bool
	// Exiting: the caller exits once Exec returns (box exec, an enter),
	// so the signals Exec passes on stay caught, and are dropped, rather
	// than given back to their default actions: giving each back is a
	// round trip to the runtime's signal thread, 0.36 ms for the six on
	// the benchmark VM.
	Exiting bool
	// Signals, when set, are what is passed on to the process instead of
	// the signals the caller gets (a health check's SIGKILL at its
	// timeout, from a monitor whose own signals are the container's).
	Signals <-chan syscall.Signal
	// Sent, when set, is called once the request is sent: work of the
	// caller's (box exec's events) done while the container starts the
	// process rather than before.
	Sent func()
}

// Exec is box exec's client, beside its server: it asks the init of the
// container whose directory is dir to start a process and returns the
// process's exit status, or box exec's status (125, 126, 127) with the
// reason it could not start.
func Exec(dir string, o ExecOptions) (int, error) {
	// Detached: init answers once the process started, or with why it
	// could not, when it can (detachAnswered); an older init is left as
	// it was, with box exec -d returning once the request is sent.
	o.Request.Detach = o.Detach && detachAnswered(dir)
	fd, err := dialExec(dir)
	if err != nil {
		return 125, fmt.Errorf("reaching the container's init: %w", err)
	}
	c := conn{fd}
	defer c.Close()
	var stdio []int
	var relay *stdioRelay
	if !o.Request.TTY {
		if relay, err = newStdioRelay(o); err != nil {
			return 125, err
		}
		defer relay.close()
		stdio = relay.childFDs()
	}
	if err := proto.WriteExecRequest(fd, &o.Request, stdio); err != nil {
		return 125, fmt.Errorf("asking the container to exec: %w", err)
	}
	if o.Sent != nil {
		o.Sent() // while the container starts the command
	}
	if o.Request.Detach {
		return execReply(c)
	}
	if relay != nil {
		relay.start(o)
	}
	var output chan struct{}
	if o.Request.TTY {
		b, master, err := proto.RecvFDByte(fd, "pty")
		if err != nil {
			// No terminal: the reply says why (its first byte came already).
			return execReply(io.MultiReader(byteReader(b, err), c))
		}
		var restore func()
		output, restore = attachTTY(c, master, o)
		defer restore()
	}
	if o.Detach {
		return 0, nil
	}
	var stop func()
	if o.Signals != nil {
		stop = relaySignals(c, o.Signals)
	} else {
		stop = passSignals(c, o.Exiting)
	}
	status, err := execReply(c)
	stop()
	if relay != nil {
		relay.relay.Drain(time.Second)
	}
	if output != nil {
		// The last output may still be in the pty: wait for its EOF (EIO
		// once the command's side is closed), briefly.
		select {
		case <-output:
		case <-time.After(500 * time.Millisecond):
		}
	}
	return status, err
}

// ExecCommand is box exec's request for its caller (the CLI's and its
// quick path's): the process on box's own stdin, stdout and stderr, and
// with a tty TERM=xterm ahead of the caller's -e (docker's). Box exits
// once it returns.
func ExecCommand(dir string, req proto.ExecRequest, interactive, detach bool, sent func()) (int, error) {
	if req.TTY {
		req.Env = append([]string{"TERM=xterm"}, req.Env...)
	}
	return Exec(dir, ExecOptions{Request: req, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Interactive: interactive, Detach: detach, Exiting: true, Sent: sent})
}

// forwarded are the signals box exec passes on to its process (to its
// process group, see the server's forwardSignals) until stop: without a
// tty, ^C reaches box exec and not the process, and a SIGTERM from a
// timeout or a SIGHUP from a closed terminal must end the process, not
// leave it running in the container. (docker exec passes none on; docker
// run does, as box run.) passSignals passes them until stop.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

func passSignals(c conn, exiting bool) (stop func()) {
	sigs := make(chan os.Signal, 8)
	quit := make(chan struct{})
	done := make(chan struct{})
	signal.Notify(sigs, forwarded...)
	go func() {
		defer close(done)
		for {
			select {
			case s := <-sigs:
				c.Write([]byte{byte(s.(syscall.Signal))})
			case <-quit:
				return
			}
		}
	}()
	return func() {
		if !exiting {
			signal.Stop(sigs)
		}
		close(quit)
		<-done // no write once the caller closes c
	}
}

// relaySignals passes on the signals sigs gives until stop.
func relaySignals(c conn, sigs <-chan syscall.Signal) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case s := <-sigs:
				c.Write([]byte{byte(s)})
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func byteReader(b byte, err error) io.Reader {
	if errors.Is(err, proto.ErrNoFD) {
		return &oneByte{b: b}
	}
	return &oneByte{done: true}
}

type oneByte struct {
	b    byte
	done bool
}

func (r *oneByte) Read(p []byte) (int, error) {
	if r.done || len(p) == 0 {
		return 0, io.EOF
	}
	p[0], r.done = r.b, true
	return 1, nil
}

// execReply reads init's reply into an exit status.
func execReply(r io.Reader) (int, error) {
	rep, err := proto.ReadExecReply(r)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return 125, errors.New("the container ended before the command did")
	}
	if err != nil {
		return 125, err
	}
	if rep.Err != "" {
		return rep.Status, errors.New(rep.Err)
	}
	return rep.Status, nil
}

// detachAnswered tells whether the init listening in dir answers a
// detached request at the start: it wrote proto.ExecDetachMark, with the
// inode of the socket it bound. An older init started later (a
// downgrade) binds another socket and writes no mark.
func detachAnswered(dir string) bool { return marked(dir, proto.ExecDetachMark) }

// marked tells whether the init listening in dir wrote mark, naming the
// socket it bound.
func marked(dir, name string) bool {
	mark, err := os.ReadFile(dir + "/" + name)
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(dir+"/"+proto.ExecSocket, &st); err != nil {
		return false
	}
	return string(mark) == strconv.FormatUint(st.Ino, 10)
}

// dialExec connects to the exec socket in dir. Through /proc/self/fd: the
// socket's full path may pass 108 bytes (see shortPath).
func dialExec(dir string) (int, error) {
	p, done, err := ShortPath(dir, proto.ExecSocket)
	if err != nil {
		return -1, err
	}
	defer done()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: p})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "connect", Path: dir + "/" + proto.ExecSocket, Err: err}
	}
	return fd, nil
}

// attachTTY sizes the pty master like the caller's terminal, lets init
// start the command, and relays it; the channel closes at the output's
// end, and restore puts the caller's terminal back as it was.
func attachTTY(c conn, master *os.File, o ExecOptions) (output chan struct{}, restore func()) {
	for _, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			break
		}
	}
	c.Write([]byte{1}) // init starts the command now
	// A resized terminal resizes the pty (the kernel then sends the
	// process its SIGWINCH), as docker exec -t does.
	winch := make(chan os.Signal, 1)
	resized := make(chan struct{})
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer close(resized)
		for range winch {
			for _, f := range []*os.File{o.Stdin, o.Stdout, o.Stderr} {
				if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
					unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
					break
				}
			}
		}
	}()
	stopWinch := func() {
		signal.Stop(winch)
		close(winch)
		<-resized
	}
	restore = stopWinch
	if o.Interactive && term.IsTerminal(int(o.Stdin.Fd())) {
		if st, err := term.MakeRaw(int(o.Stdin.Fd())); err == nil {
			restore = func() {
				stopWinch()
				term.Restore(int(o.Stdin.Fd()), st)
			}
		}
	}
	if o.Interactive {
		go io.Copy(master, o.Stdin)
	}
	output = make(chan struct{})
	go func() {
		io.Copy(o.Stdout, master)
		close(output)
	}()
	return output, restore
}

// stdioRelay is a non-tty exec's pipes: stdin (only with Interactive,
// else /dev/null), stdout and stderr, and the copies between them and the
// caller's descriptors.
type stdioRelay struct {
	child [3]*os.File // the process's ends, closed here once sent
	inW   *os.File    // stdin's write end, when Interactive
	outs  [2]*os.File // stdout's and stderr's read ends
	relay *proto.Relay
}

func newStdioRelay(o ExecOptions) (_ *stdioRelay, err error) {
	r := &stdioRelay{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if o.Interactive && !o.Detach {
		if r.child[0], r.inW, err = os.Pipe(); err != nil {
			return nil, err
		}
	} else if r.child[0], err = os.Open(os.DevNull); err != nil {
		return nil, err
	}
	for i := range r.outs {
		if o.Detach {
			// Nobody stays to read: its output goes nowhere, as docker's.
			if r.child[i+1], err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
				return nil, err
			}
			continue
		}
		if r.outs[i], r.child[i+1], err = os.Pipe(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *stdioRelay) childFDs() []int {
	return []int{int(r.child[0].Fd()), int(r.child[1].Fd()), int(r.child[2].Fd())}
}

// start closes the process's ends (it has its own now) and copies.
func (r *stdioRelay) start(o ExecOptions) {
	for i, f := range r.child {
		f.Close()
		r.child[i] = nil
	}
	proto.CatchSIGPIPE()
	var in io.Reader
	if r.inW != nil {
		in = o.Stdin
	}
	r.relay = proto.StartRelay(r.inW, r.outs[0], r.outs[1], in, o.Stdout, o.Stderr)
}

func (r *stdioRelay) close() {
	for _, f := range append(r.child[:], r.outs[0], r.outs[1]) {
		if f != nil {
			f.Close()
		}
	}
}

// ErrCopyUnknown is Copy's answer for an init of an older box, which takes
// no copy request.
var ErrCopyUnknown = errors.New("the container's init is from an older box, which cannot copy: restart the container to use box cp")

// Copy asks the init of the container whose directory is dir for box cp's
// req, with the pipe end f (closed here once sent), and returns its reply
// once the copy is done: the caller reads or writes the pipe's other end
// meanwhile, from another goroutine.
func Copy(dir string, req proto.CopyRequest, f *os.File) (proto.ExecReply, error) {
	defer f.Close()
	if !marked(dir, proto.ExecCopyMark) {
		return proto.ExecReply{}, ErrCopyUnknown
	}
	fd, err := dialExec(dir)
	if err != nil {
		return proto.ExecReply{}, fmt.Errorf("reaching the container's init: %w", err)
	}
	c := conn{fd}
	defer c.Close()
	r := proto.ExecRequest{Args: []string{proto.CopyArg0}, Copy: &req}
	if err := proto.WriteExecRequest(fd, &r, []int{int(f.Fd())}); err != nil {
		return proto.ExecReply{}, fmt.Errorf("asking the container to copy: %w", err)
	}
	f.Close() // init has its copy: the pipe ends when init's does
	rep, err := proto.ReadExecReply(c)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return rep, errors.New("the container ended before the copy did")
	}
	return rep, err
}
