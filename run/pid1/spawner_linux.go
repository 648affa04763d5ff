package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/box-run/box/run/proto"
	"golang.org/x/sys/unix"
)

// The spawner (Spec.Spawner, box shell's containers): box exec's processes
// of a keep-id container's own user, started by a copy of box inside the
// workload's user namespace rather than by init.
//
// init, a level up, must give each such process a user namespace of its
// own (keepIDAttr): Go cannot join the workload's (init has threads), and
// with a new user namespace Go forks without vfork, copying init's page
// tables, and the child then makes and maps its namespace: some 3 ms of a
// shell's enter. The spawner is already where those processes belong, so
// it starts them as init starts any other: one vfork and an exec.
//
// The workload stage starts it first thing (before pivot_root, as the
// stage itself is started: see startNested), so it is PID 2 of the
// workload's PID namespace and in its user namespace; once the workload
// runs, init sends it the workload's mount namespace and the limits, which
// a locked thread joins and takes, with docker's capabilities' bounding
// set, none of them effective, and no_new_privs; it is not dumpable. Then
// init hands it each box exec of the container's own user, on the control
// socket: the client's connection, the stdio (or the pty's slave) and what
// to run. The spawner starts the process, answers the client itself (its
// exit status, or why it could not start) and passes the client's signals
// on, exactly as init does for the others. When the spawner is gone (the
// workload may kill it: it is the user's), init starts them itself again.

// spawnerStage is the stage (proto.StageEnv) of the spawner, and
// spawnerEnv, set for the workload stage, asks it to start one on fd 4.
const (
	spawnerStage = "spawner"
	spawnerEnv   = "_BOX_SPAWNER"
)

// spawnRequest is one process for the spawner to start; the descriptors
// that come with it are the client's connection, then its stdio or the
// pty's slave.
type spawnRequest struct {
	Argv0 string   `json:"argv0"`
	Args  []string `json:"args"`
	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`
	TTY   bool     `json:"tty"`
	// Detach: answer the client once it started (box exec -d).
	Detach bool `json:"detach,omitempty"`
}

// spawnerSetup is init's first message, with the workload's mount
// namespace.
type spawnerSetup struct {
	Rlimits    []proto.Rlimit `json:"rlimits,omitempty"`
	NoNewPrivs bool           `json:"noNewPrivs,omitempty"` // proto.Spec.NoNewPrivs
}

// spawnerTimeout (seconds) is how long init waits on the spawner's
// socket before it takes the spawner for gone.
const spawnerTimeout = 5

// maxSpawnFDs is the most descriptors one message carries.
const maxSpawnFDs = 4

// readFrame reads one of init's frames (proto.ReadFrame) into v,
// returning its descriptors (the caller's, also on error): errPeerGone
// when the stream is closed, broken or out of step (init never sends a
// frame ReadFrame refuses), else JSON's error, if any.
func readFrame(fd int, v any) ([]int, error) {
	fds, body, err := proto.ReadFrame(fd, maxSpawnFDs)
	if err != nil {
		return fds, errPeerGone
	}
	return fds, json.Unmarshal(body, v)
}

// errPeerGone: the control socket's other end is closed (or broken).
var errPeerGone = errors.New("the other end went away")

// spawnerCtl is init's end of the control socket.
type spawnerCtl struct {
	mu sync.Mutex
	fd int // -1 once the spawner is gone
}

// setup sends the spawner the workload's mount namespace and the limits,
// and waits until it has taken them.
func (s *spawnerCtl) setup(mntNS int, rlimits []proto.Rlimit, nnp bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := proto.WriteFrame(s.fd, spawnerSetup{Rlimits: rlimits, NoNewPrivs: nnp}, []int{mntNS})
	if err == nil {
		b := make([]byte, 1)
		if _, err = (conn{s.fd}).Read(b); err == nil && b[0] != stageRunning {
			err = fmt.Errorf("unexpected answer %q", b)
		}
	}
	if err != nil {
		s.gone()
	}
	return err
}

// hand gives the spawner one process to start for client c; false when the
// spawner is gone (the caller starts it itself then).
func (s *spawnerCtl) hand(c conn, r spawnRequest, files []*os.File) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return false
	}
	fds := []int{c.fd}
	for _, f := range files {
		fds = append(fds, int(f.Fd()))
	}
	// Its byte says it has the request: a spawner killed before it
	// read one never answers, and init, which still has the client's
	// connection, starts the process itself.
	b := make([]byte, 1)
	if err := proto.WriteFrame(s.fd, r, fds); err != nil {
		if _, tooLarge := err.(*proto.TooLargeError); !tooLarge {
			s.gone() // else init starts this one, and the spawner stays
		}
		return false
	}
	if _, err := (conn{s.fd}).Read(b); err != nil {
		s.gone()
		return false
	}
	return true
}

func (s *spawnerCtl) gone() {
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}

// startSpawner starts the spawner from the workload stage, if init asked
// for one (its control socket is fd 4), and waits until it runs: a box
// built with cgo loads its libraries after the exec, from the host's root,
// which pivot_root takes away once the stage says it runs. A spawner that
// cannot start leaves init to start the processes itself: the socket's
// other end is closed then, and init's sends fail.
func startSpawner() {
	if os.Getenv(spawnerEnv) == "" {
		return
	}
	ctl := os.NewFile(4, "spawner")
	defer ctl.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	defer r.Close()
	_, err = os.StartProcess("/proc/self/exe", []string{"box-spawner"}, &os.ProcAttr{
		Env:   []string{proto.StageEnv + "=" + spawnerStage},
		Files: []*os.File{null, null, os.Stderr, ctl, w},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	w.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "box: starting the spawner: %v\n", err)
		return
	}
	r.Read(make([]byte, 1)) // its byte, or EOF if it died
}

// runSpawnerStage is the spawner: it waits for init's setup, then starts
// what init hands it until init goes.
func runSpawnerStage() int {
	// Never a way to box's binary through /proc/PID/exe.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	const ctl, running = 3, 4
	unix.Write(running, []byte{stageRunning}) // loaded: see startSpawner
	unix.Close(running)
	var setup spawnerSetup
	fds, err := readFrame(ctl, &setup)
	if err != nil || len(fds) != 1 {
		closeAll(fds)
		return 125
	}
	runtime.LockOSThread() // for good: every process is forked from here
	if err := joinNS(-1, fds[0]); err != nil {
		fmt.Fprintf(os.Stderr, "box: spawner: %v\n", err)
		return 125
	}
	if err := setRlimits(setup.Rlimits, true); err != nil {
		return 125
	}
	// The processes run as the user, not root of the namespace: what
	// they may have is docker's bounding set, and nothing effective.
	if err := ApplyCaps(DefaultCaps, false); err != nil {
		fmt.Fprintf(os.Stderr, "box: spawner: %v\n", err)
		return 125
	}
	if err := noNewPrivs(setup.NoNewPrivs); err != nil {
		return 125
	}
	if _, err := (conn{ctl}).Write([]byte{stageRunning}); err != nil {
		return 0
	}
	for {
		var r spawnRequest
		fds, err := readFrame(ctl, &r)
		if err == errPeerGone {
			closeAll(fds)
			return 0 // init is gone
		}
		if _, err := (conn{ctl}).Write([]byte{stageRunning}); err != nil {
			closeAll(fds)
			return 0
		}
		want := 4 // the connection and stdio; the connection and the tty's slave
		if r.TTY {
			want = 2
		}
		if err != nil || len(fds) != want || len(r.Args) == 0 {
			closeAll(fds)
			continue
		}
		spawnOne(conn{fds[0]}, r, fds[1:])
	}
}

// spawnOne starts r for client c with files fds (closed here), and then
// reports its exit to c, passing c's signals on, from a goroutine.
func spawnOne(c conn, r spawnRequest, fds []int) {
	files := make([]*os.File, 0, 3)
	for i, fd := range fds {
		files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("stdio%d", i)))
	}
	if r.TTY {
		files = []*os.File{files[0], files[0], files[0]}
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if r.TTY {
		attr.Setctty, attr.Ctty = true, 0
	}
	p, err := os.StartProcess(r.Argv0, r.Args, &os.ProcAttr{Dir: r.Cwd, Env: r.Env, Files: files, Sys: attr})
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		ie := spawnError(r.Args[0], err)
		failExec(c, ie.code, ie)
		return
	}
	if r.Detach {
		failExec(c, 0, nil) // started; its exit is nobody's to wait for
		go p.Wait()
		return
	}
	if rfd, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		go forwardSignals(conn{rfd}, p)
	}
	go func() {
		st, err := p.Wait()
		if err != nil {
			failExec(c, 125, err)
			return
		}
		reportExit(c, unix.WaitStatus(st.Sys().(syscall.WaitStatus)))
	}()
}
