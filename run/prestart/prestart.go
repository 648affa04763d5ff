// Package prestart starts a container's init process: the descriptors it
// gets and the clone into new namespaces. box run uses it twice over.
//
// A Launch is init's process before it has its spec. run.Run makes one for
// each container it starts; and for "box run" in the foreground this
// package's initialiser starts one speculatively, before box has parsed
// its flags or resolved the image. A Go program runs every package
// initialiser before main, about 150 for box (the registry client, TLS,
// gVisor's netstack, the CLI), and then box parses its flags and reads the
// store: about 4 ms on the benchmark machine. init's own start takes
// about as long (the clone, the id maps, a Go runtime start, its own
// initialisers) and used to follow it. Started here, as soon as the
// packages this one imports are initialised (after about 80 of those
// initialisers), it runs on the other core meanwhile (docs/BENCHMARKS.md,
// Start-up, has the measurements). run.Run takes the prestarted init if it was started the way
// the container needs (see Fits) and ends it otherwise; so does box when it
// never gets that far (a bad flag, --help, a failed pull).
//
// The speculative start makes every choice that flags would: a network
// namespace (anything but --network host), stdin passed on (init replaces
// it with /dev/null unless -i), and the sockets for a tty, the slirp
// network and published ports, which init ignores when unused (init marks
// every descriptor above 2 close-on-exec: the workload never has them). Its network
// namespace is made by init itself (see proto.NetnsEnv): in clone(2) that
// costs about a millisecond of the cloning thread, box's main thread here.
// That only fits a container whose init execs the workload, so a quick
// look at the arguments skips the speculation where it cannot fit (-d,
// --network host, --init, -p, keep-id, --mpi, --ipc, -t and --name, whose
// init stays to serve box exec, and the resource limits, whose init is
// cloned into a cgroup of the container's own, or pinned to CPUs). The
// look does not parse: a wrong guess either way costs time (a wasted
// start, or the speed-up), never correctness, which Fits decides on the
// parsed flags.
package prestart

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	cliargs "github.com/box-run/box/cli/args"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// Config is what init's process is started with, before its spec.
type Config struct {
	Stdin   bool   // a stdin the host feeds (else init gets /dev/null)
	TTY     bool   // a socket to carry the pty master
	Network string // slirp, none or host
	Ports   bool   // a socket for connections to published ports
	// Relay gives init pipes of its own for stdin, stdout and stderr,
	// which the host copies from and to the caller's (run's relay), so
	// that nothing in the container ever holds a descriptor of the
	// caller's: their terminal, or the file their output goes to. Out
	// and ErrOut are then where the host copies to; without Relay they
	// are init's own (a detached container's log pipes).
	Relay       bool
	Out, ErrOut io.Writer
	// StaysPID1: init forks the workload and stays (proto.Spec.StaysPID1).
	StaysPID1 bool
	// InitMakesNetns clones init without a network namespace and has it
	// make one itself (proto.NetnsEnv). Not for a container whose init
	// stays as PID 1.
	InitMakesNetns bool
	// IPCHost: init stays in the host's IPC namespace, PIDHost in its
	// PID namespace.
	IPCHost, PIDHost bool
	UTSHost          bool // and UTS
	// Inherit are descriptors of the caller's passed on to init after its
	// own; Launch.InheritFDs are their numbers there.
	Inherit []*os.File
	// Cgroup, if set, is the cgroup v2 directory init is cloned into
	// (clone3's CLONE_INTO_CGROUP), so that nothing of the container runs
	// outside its limits.
	Cgroup *os.File
	// Pin, if set, is the CPUs and memory nodes init is cloned with
	// (--cpuset-cpus, --cpuset-mems), which everything in the container
	// inherits.
	Pin *Pin
}

// Pin is a CPU affinity and a memory policy binding to nodes, as taskset
// and numactl --membind set them: nil fields leave those as box's.
type Pin struct {
	CPUs *unix.CPUSet
	Mems []uint64 // a node mask, node n at bit n%64 of word n/64
}

// mpolBind is set_mempolicy(2)'s MPOL_BIND.
const mpolBind = 2

// apply sets the pin on the calling thread (affinity and memory policy
// are a thread's), which the process it clones then inherits, and returns
// what puts the thread back as it was; ok false when that failed, and
// the thread must never run anything else.
func (p *Pin) apply() (undo func() (ok bool), err error) {
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		return nil, fmt.Errorf("pinning the container to CPUs: %w", err)
	}
	var mode int
	mask := make([]uint64, 16) // 1024 nodes, as the kernel's largest
	if _, _, e := unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64), 0, 0, 0); e != 0 {
		return nil, fmt.Errorf("binding the container to memory nodes: %w", e)
	}
	undo = func() bool {
		okCPUs := p.CPUs == nil || unix.SchedSetaffinity(0, &cpus) == nil
		okMems := true
		if len(p.Mems) > 0 {
			_, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64+1))
			okMems = e == 0
		}
		return okCPUs && okMems
	}
	if p.CPUs != nil {
		if err := unix.SchedSetaffinity(0, p.CPUs); err != nil {
			return nil, fmt.Errorf("pinning the container to CPUs: %w", err)
		}
	}
	if len(p.Mems) > 0 {
		// maxnode counts one past the mask's bits, as the kernel reads it.
		_, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, mpolBind, uintptr(unsafe.Pointer(&p.Mems[0])), uintptr(len(p.Mems)*64+1))
		if e != 0 {
			undo()
			return nil, fmt.Errorf("binding the container to memory nodes: %w", e)
		}
	}
	return undo, nil
}

// Launch is init's process and the host's ends of what it is given: the
// spec pipe (fd 3), the "ready" pipe (fd 4), then the tty, network and
// port sockets, at TTYFD, NetFD and PortFD (0 when not given).
type Launch struct {
	cfg                          Config
	Cmd                          *exec.Cmd
	SpecR, SpecW, ReadyR, ReadyW *os.File
	// TTY, Net and Port are the host's ends; TTYChild, NetChild and
	// PortChild init's, which the host closes once init has started.
	TTY, TTYChild   *os.File
	Net, NetChild   *os.File
	Port, PortChild *os.File
	TTYFD, NetFD    int
	PortFD          int
	InheritFDs      []int // Config.Inherit's numbers in init
	// StdinW, StdoutR and StderrR are the host's ends of the relay's pipes
	// (Config.Relay; StdinW with Config.Stdin, also without Relay),
	// stdinR, stdoutW and stderrW init's.
	StdinW, StdoutR, StderrR *os.File
	stdinR, stdoutW, stderrW *os.File

	mapping  string
	starting chan error // the speculative start's result, once
}

// New makes init's command and its descriptors; nothing runs yet.
func New(c Config) (_ *Launch, err error) {
	l := &Launch{cfg: c}
	defer func() {
		if err != nil {
			l.Close() // what was made before the failure
		}
	}()
	if l.SpecR, l.SpecW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if l.ReadyR, l.ReadyW, err = os.Pipe(); err != nil {
		return nil, err
	}
	l.Cmd = Command("init")
	if c.Cgroup != nil {
		l.Cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(c.Cgroup.Fd())}
	}
	if c.Relay {
		pipe := func(r, w **os.File) error {
			var err error
			*r, *w, err = os.Pipe()
			return err
		}
		if err := pipe(&l.StdoutR, &l.stdoutW); err != nil {
			return nil, err
		}
		if err := pipe(&l.StderrR, &l.stderrW); err != nil {
			return nil, err
		}
		l.Cmd.Stdout, l.Cmd.Stderr = l.stdoutW, l.stderrW
		if c.Stdin {
			if err := pipe(&l.stdinR, &l.StdinW); err != nil {
				return nil, err
			}
			l.Cmd.Stdin = l.stdinR
		}
	} else {
		l.Cmd.Stdout, l.Cmd.Stderr = c.Out, c.ErrOut
		if c.Stdin {
			// A detached container's open stdin (run.Options.HoldStdin):
			// the write end stays here until Close.
			var err error
			if l.stdinR, l.StdinW, err = os.Pipe(); err != nil {
				return nil, err
			}
			l.Cmd.Stdin = l.stdinR
		}
	}
	l.Cmd.ExtraFiles = []*os.File{l.SpecR, l.ReadyW}
	add := func(want bool, parent, child **os.File, fd *int) error {
		if !want {
			return nil
		}
		var err error
		if *parent, *child, err = proto.SocketPair(); err != nil {
			return err
		}
		*fd = 3 + len(l.Cmd.ExtraFiles)
		l.Cmd.ExtraFiles = append(l.Cmd.ExtraFiles, *child)
		return nil
	}
	if err := add(c.TTY, &l.TTY, &l.TTYChild, &l.TTYFD); err != nil {
		return nil, err
	}
	if err := add(c.Network == "slirp", &l.Net, &l.NetChild, &l.NetFD); err != nil {
		return nil, err
	}
	if err := add(c.Ports, &l.Port, &l.PortChild, &l.PortFD); err != nil {
		return nil, err
	}
	for _, f := range c.Inherit {
		l.InheritFDs = append(l.InheritFDs, 3+len(l.Cmd.ExtraFiles))
		l.Cmd.ExtraFiles = append(l.Cmd.ExtraFiles, f)
	}
	return l, nil
}

// Command re-executes box as stage. argv[0] stays "box": the test binary
// dispatches on it. The stage's environment is box's without box's own
// stage variables, so that a caller's cannot steer it.
func Command(stage string, args ...string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args = append([]string{"box"}, args...)
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, proto.StageEnv+"=") || strings.HasPrefix(kv, proto.NetnsEnv+"=")
	}), proto.StageEnv+"="+stage)
	return cmd
}

// Start clones init into new namespaces with mapping m; init then waits
// for its spec.
func (l *Launch) Start(m userns.Mapping) error {
	finish, err := l.begin(m)
	if err != nil {
		return err
	}
	return finish()
}

// begin is Start up to the clone (see userns.Begin).
func (l *Launch) begin(m userns.Mapping) (finish func() error, err error) {
	l.mapping = m.String()
	var flags uintptr
	if !l.cfg.UTSHost {
		flags |= unix.CLONE_NEWUTS
	}
	if !l.cfg.IPCHost {
		flags |= unix.CLONE_NEWIPC
	}
	if !l.cfg.PIDHost {
		flags |= unix.CLONE_NEWPID
	}
	switch {
	case l.cfg.InitMakesNetns:
		l.Cmd.Env = append(l.Cmd.Env, proto.NetnsEnv+"=1")
	case l.cfg.Network != "host":
		flags |= unix.CLONE_NEWNET
	}
	if l.cfg.Pin == nil {
		return userns.Begin(l.Cmd, m, flags)
	}
	// Cloned from a thread pinned for it, and put back after. The thread
	// must live on: init's parent-death signal follows the thread that
	// cloned it, not the process. Should putting it back fail, the
	// goroutine keeps the thread for itself, parked.
	type started struct {
		finish func() error
		err    error
	}
	done := make(chan started, 1)
	go func() {
		runtime.LockOSThread()
		undo, err := l.cfg.Pin.apply()
		if err != nil {
			runtime.UnlockOSThread()
			done <- started{err: err}
			return
		}
		finish, err := userns.Begin(l.Cmd, m, flags)
		done <- started{finish, err}
		if !undo() {
			select {} // the thread stays pinned and runs nothing else
		}
		runtime.UnlockOSThread()
	}()
	s := <-done
	return s.finish, s.err
}

// Fits tells whether the launch was made for c (a speculative one fits any
// c it can serve) with mapping m, and started.
func (l *Launch) Fits(c Config, m userns.Mapping) bool {
	if l.starting != nil {
		if err := l.wait(); err != nil {
			return false
		}
	}
	if l.mapping != m.String() || l.cfg.Relay != c.Relay || l.cfg.Out != c.Out || l.cfg.ErrOut != c.ErrOut {
		return false
	}
	if (l.cfg.Network == "host") != (c.Network == "host") || l.cfg.InitMakesNetns && c.StaysPID1 {
		return false
	}
	if l.cfg.IPCHost != c.IPCHost || l.cfg.PIDHost != c.PIDHost || l.cfg.UTSHost != c.UTSHost || len(l.cfg.Inherit) > 0 || len(c.Inherit) > 0 || l.cfg.Cgroup != nil || c.Cgroup != nil || c.Pin != nil {
		return false
	}
	return (l.cfg.Stdin || !c.Stdin) && (l.cfg.TTY || !c.TTY) &&
		(l.cfg.Network == "slirp" || c.Network != "slirp") && (l.cfg.Ports || !c.Ports)
}

// wait returns the speculative start's result.
func (l *Launch) wait() error {
	err, ok := <-l.starting
	if ok {
		l.starting <- err // for the next caller
	}
	return err
}

// Abort ends a started init that will get no spec, waits for it, and
// closes the descriptors.
func (l *Launch) Abort() {
	if l == nil {
		return
	}
	var started bool
	if l.starting != nil {
		started = l.wait() == nil
	} else {
		started = l.Cmd.Process != nil
	}
	if started {
		l.Cmd.Process.Kill()
		l.Cmd.Wait()
	}
	l.Close()
}

// Close closes every descriptor the launch holds, both ends.
func (l *Launch) Close() {
	for _, f := range []*os.File{l.SpecR, l.SpecW, l.ReadyR, l.ReadyW, l.TTY, l.TTYChild, l.Net, l.NetChild, l.Port, l.PortChild,
		l.StdinW, l.stdinR, l.StdoutR, l.stdoutW, l.StderrR, l.stderrW} {
		if f != nil {
			f.Close()
		}
	}
}

// CloseChildEnds closes init's ends once it has started: init's copies
// alone keep them open, so the host sees EOF or EPIPE if it dies.
func (l *Launch) CloseChildEnds() {
	for _, f := range []*os.File{l.SpecR, l.ReadyW, l.TTYChild, l.NetChild, l.PortChild, l.stdinR, l.stdoutW, l.stderrW} {
		if f != nil {
			f.Close()
		}
	}
}

// early is the speculative launch, until taken.
var early *Launch

func init() {
	if os.Getenv(proto.StageEnv) != "" || !speculate(os.Args[1:]) {
		return
	}
	early = speculative()
}

// speculative makes and starts the speculative launch, or returns nil.
// The clone happens here, on the main thread: without a network namespace
// it is quick (init makes that while box starts), and Pdeathsig ties init
// to the thread that cloned it, which must not end before box does. A
// helper mapping's newuidmap and newgidmap then run beside the
// initialisers still to come.
func speculative() *Launch {
	// fd 0 closed: a pipe made now would take its number, and the relay
	// would read its own pipe as the caller's stdin.
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != nil {
		return nil
	}
	m, _, err := userns.Detect()
	if err != nil {
		return nil // box run reports it
	}
	l, err := New(Config{Stdin: true, TTY: true, Network: "slirp", Ports: true, Relay: true, Out: os.Stdout, ErrOut: os.Stderr, InitMakesNetns: true})
	if err != nil {
		return nil
	}
	finish, err := l.begin(m)
	if err != nil {
		l.Close()
		return nil
	}
	l.starting = make(chan error, 1)
	if m.Helper {
		go func() { l.starting <- finish() }()
	} else {
		l.starting <- finish()
	}
	return l
}

// Take returns the speculative launch, once; nil if there is none.
func Take() *Launch {
	l := early
	early = nil
	return l
}

// Abort ends the speculative launch if nobody took it.
func Abort() { Take().Abort() }

// speculate is the quick look at box's arguments: "run" as the command,
// and nothing that rules the speculative start out.
func speculate(args []string) bool {
	i := cliargs.Command(args)
	if i >= len(args) || args[i] != "run" {
		return false
	}
	for j, a := range args[i+1:] {
		switch {
		case a == "--detach" || strings.HasPrefix(a, "--detach="), a == "--network=host", a == "--net=host",
			(a == "--network" || a == "--net") && i+2+j < len(args) && args[i+2+j] == "host",
			a == "--help", a == "--init", strings.HasPrefix(a, "--publish"),
			strings.HasPrefix(a, "--userns"), a == "--mpi", strings.HasPrefix(a, "--ipc"), strings.HasPrefix(a, "--pid"), strings.HasPrefix(a, "--uts"),
			strings.HasPrefix(a, "--memory"), strings.HasPrefix(a, "--cpu"), strings.HasPrefix(a, "--pids-limit"),
			a == "--tty", a == "--name", strings.HasPrefix(a, "--name="), strings.HasPrefix(a, "--health-cmd"):
			// limits: init is cloned into the container's cgroup, or
			// pinned; a
			// terminal, a name or a health check: init stays, to serve
			// box exec
			return false
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.ContainsAny(a[1:], "dhpPmt"):
			return false // -d, -h, -p, -P, -m, -t, or a cluster such as -itd
		}
	}
	return true
}
