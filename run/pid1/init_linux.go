package pid1

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/internal/siginfo"
	"github.com/box-run/box/run/proto"
	"github.com/box-run/box/userns/child"

	"github.com/box-run/box/slirp/tap"
	"golang.org/x/sys/unix"
)

// init runs the init stage in a re-executed box as soon as this package's
// imports are initialised, not after every package box links (see the
// package doc). It never returns there: the workload replaces it, or it
// exits with the container's status.
//
// First, in every box process, it marks the descriptors box inherited
// close-on-exec: one the caller left open without it would pass through
// box into the container, and a directory among them is a way out of it.
// box's own inherited descriptors are consumed by number by the stage that
// gets them; none is meant to be exec'd on. This is the earliest point
// box's code runs, before anything it starts (box run's prestarted init,
// newuidmap) could inherit them.
func init() {
	CloseOnExecFrom3()
	switch os.Getenv(proto.StageEnv) {
	case "init":
	case workloadStage:
		os.Exit(runWorkloadStage())
	case spawnerStage:
		os.Exit(runSpawnerStage())
	default:
		return
	}
	if err := child.Init(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		os.Exit(125)
	}
	os.Exit(Init())
}

// CloseOnExecFrom3 marks every descriptor from 3 up close-on-exec:
// close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11), else one by one
// from /proc/self/fd. Descriptors a caller left open would otherwise pass
// through box into the container; box's own are consumed by number.
func CloseOnExecFrom3() {
	if unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.CloseOnExec(fd)
		}
	}
}

// Init runs as PID 1 of the container's namespaces: it builds the root
// filesystem, pivots into it, drops to the workload's credentials and
// capabilities, and execs the workload — or, with --init or keep-id, forks
// it and stays as a small reaper. It never returns on a successful exec.
// Failures print one "box: …" line and exit 125 (setup), 126 (cannot
// invoke) or 127 (not found), like docker.
func Init() int {
	// Signals may come (box stop, ^C) before the workload runs. Unhandled,
	// Go's runtime would end init with status 2; caught here, they stop a
	// container that has not started yet, or reach the workload under
	// --init. Only once they are caught does init tell the monitor (fd 4),
	// which forwards nothing and reports nothing as running before that.
	//
	// Catching them starts the runtime's signal threads, ~0.3 ms: that
	// happens beside the set-up, and the monitor waits for the byte.
	early := &earlySignals{c: make(chan os.Signal, 64), caught: make(chan struct{})}
	readyFile = os.NewFile(4, "ready")
	go func() {
		signal.Notify(early.c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		proto.SendReady(readyFile, proto.SignalsCaught)
		close(early.caught)
	}()
	var ns *netns
	if os.Getenv(proto.NetnsEnv) == "1" {
		ns = makeNetns() // while the spec comes and the layers are stacked
	}
	spec, err := readSpec()
	if err == nil && ns != nil && spec.StaysPID1() {
		err = errors.New("internal error: init was started without a network namespace for a container whose init stays as PID 1")
	}
	if err == nil {
		err = initContainer(spec, early, ns)
	}
	var ie *initError
	code := 125
	if errors.As(err, &ie) {
		code = ie.code
	}
	fmt.Fprintf(os.Stderr, "box: %v\n", err)
	// After SignalsCaught, so that the monitor reads the bytes in order.
	select {
	case <-early.caught:
		proto.SendFailure(readyFile, err.Error())
	case <-time.After(time.Second):
	}
	return code
}

// earlySignals are the signals init catches while it sets the container
// up; caught closes once they are caught and the monitor has been told.
type earlySignals struct {
	c      chan os.Signal
	caught chan struct{}
}

// readyFile is init's end of the pipe on which it tells the monitor first
// that signals are caught, then (when it stays as PID 1) that the workload
// started. In the exec path it closes with the exec (close-on-exec).
var readyFile *os.File

// initError carries the exit status for a failure.
type initError struct {
	code int
	err  error
}

func (e *initError) Error() string { return e.err.Error() }
func (e *initError) Unwrap() error { return e.err }

func readSpec() (*proto.Spec, error) {
	f := os.NewFile(3, "spec")
	defer f.Close()
	var spec proto.Spec
	if err := json.NewDecoder(f).Decode(&spec); err != nil {
		return nil, fmt.Errorf("reading container spec: %w", err)
	}
	return &spec, nil
}

// initStart is when init's Go code began, for --debug's step timings.
var initStart = time.Now()

// trace reports a setup step's time since init started, with --debug.
func trace(spec *proto.Spec, step string) {
	if spec.Debug {
		fmt.Fprintf(os.Stderr, "box init: %-12s %v\n", step, time.Since(initStart))
	}
}

// With ns, init makes the network namespace (see NetnsEnv).
func initContainer(spec *proto.Spec, early *earlySignals, ns *netns) error {
	trace(spec, "spec read")
	if !spec.Stdin {
		// The caller's stdin is for -i only (box may pass it before it
		// knows; see package prestart).
		if err := nullStdin(); err != nil {
			return err
		}
	}
	// A session of its own: the caller's terminal must not be the
	// container's controlling terminal (see Run).
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if spec.UTSHost {
		hostNames(spec)
	}
	if spec.PIDHost {
		// Not PID 1 of a namespace of its own: the container's orphans
		// (a fuse-overlayfs daemon, what the workload leaves) come to
		// init all the same, for proc.EndTree, as a child subreaper.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("becoming the container's reaper: %w", err)
		}
	}
	var workload *nested
	if spec.NestedPID() {
		// Before pivot_root, and while the mounts are made.
		var err error
		if workload, err = startNested(spec); err != nil {
			return err
		}
	}
	// The network comes up while the mounts are made.
	netDone := make(chan error, 1)
	if ns != nil {
		ns.start(spec)
	} else {
		go func() { netDone <- setupNetwork(spec) }()
	}
	root, err := setupRootfs(spec, ns)
	if err != nil {
		return err
	}
	trace(spec, "mounts done")
	if ns != nil {
		err = ns.join()
	} else {
		err = <-netDone
	}
	if err != nil {
		return err
	}
	// With --uts host the names are the host's, which the user may not
	// set.
	if !spec.UTSHost {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	if spec.Domainname != "" && !spec.UTSHost {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("setting the domain name: %w", err)
		}
	}
	if err := setSysctls(spec.Sysctls); err != nil {
		return err
	}
	if err := runHooks(spec, root); err != nil {
		return err
	}
	execL := -1
	if spec.Exec {
		// Bound while the container's directory is still reachable.
		if execL, err = listenExec(spec.Dir); err != nil {
			return err
		}
	}
	if workload != nil {
		if err := workload.running(); err != nil {
			return err
		}
		trace(spec, "stage runs")
	}
	if err := pivot(root); err != nil {
		return err
	}
	if spec.ReadOnly {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making the root read-only: %w", err)
		}
	}
	user, err := resolveUser(spec)
	if err != nil {
		return err
	}
	env := withHome(spec.Env, user.Home)
	if err := enterCwd(spec); err != nil {
		return err
	}
	argv0, err := lookPath(spec.Args[0], env)
	if err != nil {
		return err
	}
	var tty *os.File
	if spec.TTY {
		// With keep-id the workload's uid is, one namespace down, init's 0.
		owner := user.UID
		if spec.KeepID {
			owner = 0
		}
		if tty, err = openTTY(spec.TTYFD, owner); err != nil {
			return err
		}
	}
	if !spec.NestedPID() {
		// The workload stage applies both itself (see startNested).
		if err := ApplyCaps(specCaps(spec.Caps), true); err != nil {
			return err
		}
		if err := noNewPrivs(spec.NoNewPrivs); err != nil {
			return err
		}
	}
	trace(spec, "exec")
	if spec.StaysPID1() {
		return reap(spec, argv0, env, user, tty, early, execL, workload)
	}
	<-early.caught
	select {
	case s := <-early.c:
		os.Exit(128 + int(s.(syscall.Signal)))
	default:
	}
	return execWorkload(spec, argv0, env, user, tty)
}

// keptFDs copies the descriptors the workload keeps (proto.Spec.KeepFDs) out
// of the way, above any number init uses or a target names, so that moving
// them to their targets overwrites none of them.
func keptFDs(keep []proto.FDMap) ([]proto.FDMap, error) {
	out := make([]proto.FDMap, 0, len(keep))
	for _, k := range keep {
		if k.To < 3 {
			return nil, fmt.Errorf("descriptor %d cannot be kept: 0-2 are stdio", k.To)
		}
		fd, err := unix.FcntlInt(uintptr(k.From), unix.F_DUPFD_CLOEXEC, 1024)
		if err != nil {
			return nil, fmt.Errorf("keeping descriptor %d: %w", k.To, err)
		}
		out = append(out, proto.FDMap{From: fd, To: k.To})
	}
	return out, nil
}

// withKept puts the kept descriptors into a child's files at their numbers.
func withKept(files []*os.File, keep []proto.FDMap) []*os.File {
	for _, k := range keep {
		for len(files) <= k.To {
			files = append(files, nil)
		}
		files[k.To] = os.NewFile(uintptr(k.From), "kept")
	}
	return files
}

// nullStdin replaces fd 0 with /dev/null.
func nullStdin() error {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/dev/null", Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Dup3(fd, 0, 0); err != nil {
		return fmt.Errorf("stdin from /dev/null: %w", err)
	}
	return nil
}

// pivot makes root the root and detaches the old one, so no path leads back
// to the host filesystem.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return &os.PathError{Op: "chdir", Path: root, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: root, Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "detach old root", Path: root, Err: err}
	}
	return unix.Chdir("/")
}

func resolveUser(spec *proto.Spec) (ExecUser, error) {
	if spec.KeepID {
		return ExecUser{UID: spec.HostUID, GID: spec.HostGID, Home: keepIDHome(spec), Name: spec.UserName}, nil
	}
	// After pivot_root, "/" is the container's root.
	u, err := LookupUser(os.DirFS("/"), spec.User)
	if err == nil {
		err = specGroups(spec, &u)
	}
	if err != nil {
		// docker run's 125: its CLI gives 126 and 127 only for an
		// error that names EACCES, EISDIR or a missing file.
		return u, &initError{125, err}
	}
	return u, nil
}

// specGroups adds --group-add's groups to u. They need setgroups, which a
// container mapped to one id (no subordinate ids) may not call.
// keep-groups (podman's, with crun) instead leaves the caller's own
// supplementary groups from the host: the container's processes keep
// access to what those groups own (a project directory of a shared
// machine), though unmapped groups show as the overflow gid (nogroup).
func specGroups(spec *proto.Spec, u *ExecUser) error {
	if len(spec.GroupAdd) == 0 {
		return nil
	}
	if slices.Contains(spec.GroupAdd, KeepGroups) {
		u.KeepGroups = true
		return nil
	}
	if !setgroupsAllowed() {
		return errors.New("--group-add needs subordinate ids: with your id alone mapped, the kernel refuses setgroups (see box info)")
	}
	return AddGroups(os.DirFS("/"), u, spec.GroupAdd)
}

// withHome sets HOME from the user's passwd entry unless it is set: never empty.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	if home == "" {
		home = "/"
	}
	return append(env, "HOME="+home)
}

// enterCwd changes to the working directory, made when missing (as docker
// does, the image's WorkingDir or -w's).
func enterCwd(spec *proto.Spec) error {
	os.MkdirAll(spec.Cwd, 0o755)
	if err := unix.Chdir(spec.Cwd); err != nil {
		// docker run's statuses for the runtime's chdir error, which
		// its CLI reads from the message: 127 for a missing directory
		// (under --read-only), 126 for EACCES, else (a file) 125.
		code := 125
		switch err {
		case unix.ENOENT:
			code = 127
		case unix.EACCES:
			code = 126
		}
		return &initError{code, fmt.Errorf("working directory %s: %w", spec.Cwd, err)}
	}
	return nil
}

// lookPath finds the workload in the container's PATH, with docker's exit
// statuses for what cannot be run.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExec(name)
	}
	search := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			search = v
		}
	}
	for _, dir := range splitList(search) {
		p := path.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &initError{127, fmt.Errorf("exec: %q: executable file not found in $PATH", name)}
}

func checkExec(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &initError{127, fmt.Errorf("exec: %q: no such file or directory", p)}
	case err != nil:
		return &initError{126, fmt.Errorf("exec: %q: %w", p, err)}
	case fi.IsDir():
		return &initError{126, fmt.Errorf("exec: %q: is a directory", p)}
	}
	return nil
}

// execWorkload turns init into the workload.
func execWorkload(spec *proto.Spec, argv0 string, env []string, u ExecUser, tty *os.File) error {
	return becomeWorkload(argv0, spec.Args, env, u, spec.Rlimits, tty, spec.KeepFDs)
}

// becomeWorkload execs the workload from the calling thread, which has the
// workload's capabilities and no_new_privs already: with tty as its stdio
// and controlling terminal, if set, its limits and its user.
func becomeWorkload(argv0 string, args, env []string, u ExecUser, rlimits []proto.Rlimit, tty *os.File, keep []proto.FDMap) error {
	if tty != nil {
		if err := takeTTY(tty); err != nil {
			return err
		}
	}
	if err := setRlimits(rlimits, false); err != nil {
		return err
	}
	if err := setCreds(u); err != nil {
		return err
	}
	// Descriptors box holds (the spec pipe, the tty socket) must not leak;
	// the caller's kept ones move to their own numbers.
	kept, err := keptFDs(keep)
	if err != nil {
		return err
	}
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	for _, k := range kept {
		if err := unix.Dup3(k.From, k.To, 0); err != nil {
			return fmt.Errorf("keeping descriptor %d: %w", k.To, err)
		}
	}
	err = unix.Exec(argv0, args, env)
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &initError{code, fmt.Errorf("exec: %q: %w", args[0], err)}
}

// setCreds switches to the workload's user. Changing credentials clears the
// parent-death signal, which is what ties the container to box's monitor.
//
// The raw system calls change only this thread, the one ApplyCaps locked
// and the one that execs (execve ends the others). Go's setuid family
// changes every thread of the process, signalling each: time init's
// start-up budget has no room for.
func setCreds(u ExecUser) error {
	if setgroupsAllowed() && !u.KeepGroups {
		groups := make([]uint32, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = uint32(g)
		}
		var p unsafe.Pointer
		if len(groups) > 0 {
			p = unsafe.Pointer(&groups[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return &initError{125, idError("gid", u.GID, e)}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return &initError{125, idError("uid", u.UID, e)}
	}
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}

// setgroupsAllowed: with a single mapping written without newgidmap the
// kernel requires setgroups to be denied.
func setgroupsAllowed() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(b)) == "allow"
}

// reap starts the workload and stays as PID 1 of the container's PID
// namespace: it forwards signals to the workload, reaps every orphan, and
// exits with the workload's status. Without --init the workload is PID 1
// of a namespace nested in init's (startNested); with it, a plain child.
// With keep-id the workload runs in a nested user namespace mapping the
// caller's uid to the id that is the caller on the host, so files it
// writes are the caller's.
func reap(spec *proto.Spec, argv0 string, env []string, u ExecUser, tty *os.File, early *earlySignals, execL int, workload *nested) error {
	// PID 1 runs box's binary: keep other processes from opening it through
	// /proc/1/exe (the CVE-2019-5736 class).
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Every signal from now on, on the same channel: what came during
	// set-up goes to the workload first, and nothing twice.
	<-early.caught
	sigs := early.c
	signal.Notify(sigs)
	if spec.JobSignals {
		// Who sent each (fromSlurm); unknown, and passed on, if this
		// fails.
		siginfo.Watch(jobSignals...)
	}
	var p *os.Process
	pidNS, mntNS := -1, -1
	var err error
	execs := &execServer{spec: spec, env: spec.Env, waiting: map[int]conn{}}
	if workload != nil {
		l := &launch{Argv0: argv0, Args: spec.Args, Env: env, Cwd: spec.Cwd, User: u, Rlimits: spec.Rlimits, Caps: spec.Caps, NoNewPrivs: spec.NoNewPrivs}
		if pidNS, mntNS, err = workload.exec(l, tty, spec.KeepID); err != nil {
			return err
		}
		p = workload.p
		trace(spec, "workload")
		if workload.ctl != nil {
			if err := workload.ctl.setup(mntNS, spec.Rlimits, spec.NoNewPrivs); err != nil {
				fmt.Fprintf(os.Stderr, "box: the spawner is not running (%v): init starts box exec's processes\n", err)
			} else {
				execs.ctl = workload.ctl
			}
		}
		// Limits for box exec's processes (the workload set its own).
		if err := setRlimits(spec.Rlimits, true); err != nil {
			p.Kill()
			return err
		}
	} else if p, err = startChild(spec, argv0, env, u, tty); err != nil {
		return err
	}
	if tty != nil {
		tty.Close()
	}
	if spec.PortFD > 0 {
		go servePortRequests(os.NewFile(uintptr(spec.PortFD), "ports"))
	}
	proto.SendReady(readyFile, proto.WorkloadStarted) // box run -d can return
	readyFile.Close()
	if execL >= 0 {
		// box cp's threads join the workload's mount namespace as the
		// spawner's does, which closes its descriptor: a copy of it.
		execs.copyNS, execs.copyCaps = -1, specCaps(spec.Caps)
		if mntNS >= 0 {
			if execs.copyNS, err = unix.FcntlInt(uintptr(mntNS), unix.F_DUPFD_CLOEXEC, 0); err != nil {
				execs.copyNS = -2 // none: box cp refuses
			}
		}
		if execs.spawn, err = newSpawner(pidNS, mntNS, specCaps(spec.Caps), spec.NoNewPrivs); err != nil {
			fmt.Fprintf(os.Stderr, "box: box exec will not work: %v\n", err)
			unix.Close(execL)
		} else {
			go execs.serve(execL)
		}
	}
	for s := range sigs {
		switch s {
		case syscall.SIGCHLD:
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err != nil || pid <= 0 {
					break
				}
				if pid == p.Pid {
					execs.waitCopies(2 * time.Second)
					if spec.PIDHost {
						// What the container left running ends with
						// it, as the end of a PID namespace would end
						// it: every process below init, whose orphans
						// init inherits as a child subreaper. Not on
						// this thread, whose capabilities ApplyCaps
						// limited: killing processes of other uids
						// takes CAP_KILL.
						done := make(chan struct{})
						go func() { proc.EndTree(5 * time.Second); close(done) }()
						<-done
					}
					if ws.Signaled() {
						os.Exit(128 + int(ws.Signal()))
					}
					os.Exit(ws.ExitStatus())
				}
				execs.exited(pid, ws)
			}
		case syscall.SIGURG:
			// The Go runtime's own preemption signal: one sent to the
			// container cannot be told from it (box kill signals a
			// nested workload directly, see the package doc). SIGPIPE is
			// passed on: init's own writes to sockets never raise it,
			// see conn.
		default:
			if !spec.JobSignals || !fromSlurm(s, spec.PIDHost) {
				p.Signal(s)
			}
		}
	}
	return nil
}

// hostNames puts the host's hostname of now (--uts host) where the
// container's was written when it was made, for a start on another node
// of a shared store or after the host was renamed: /etc/hostname's and
// /etc/hosts' text, and HOSTNAME.
func hostNames(spec *proto.Spec) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return
	}
	now := unix.ByteSliceToString(u.Nodename[:])
	if now == "" || now == spec.Hostname {
		return
	}
	spec.Hosts = strings.ReplaceAll(spec.Hosts, "\t"+spec.Hostname+"\n", "\t"+now+"\n")
	for i, e := range spec.Env {
		if e == "HOSTNAME="+spec.Hostname {
			spec.Env[i] = "HOSTNAME=" + now
		}
	}
	spec.Hostname = now
}

// jobSignals are the signals whose sender init records in a Slurm job
// (fromSlurm): all it passes on but those the kernel raises for a fault.
var jobSignals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGABRT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTERM, syscall.SIGSTKFLT,
	syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGXCPU,
	syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGWINCH, syscall.SIGIO, syscall.SIGPWR}

// fromSlurm tells whether init's last delivery of s (siginfo.Last) is a
// kill from outside its PID namespace (SI_USER, sender pid 0 there), which
// in a Slurm job step whose processes Slurm signals itself
// (proto.Spec.JobSignals) is Slurm's: the workload got it as well. What
// box forwards (box run's, box stop's and box kill's) comes with
// rt_sigqueueinfo (SI_QUEUE), a process in the container's kill has its
// pid, and a sender init cannot know is passed on.
//
// With --pid host, where every sender's pid shows, a kill from outside is
// one from a process that is not below init.
func fromSlurm(s os.Signal, pidHost bool) bool {
	pid, code, ok := siginfo.Last(s)
	if !ok || code != siginfo.SIUser {
		return false
	}
	if !pidHost || pid == 0 {
		return pid == 0
	}
	return !slices.Contains(proc.Descendants(os.Getpid()), pid)
}

// startChild forks the workload as a child of init (--init), on the
// thread that ApplyCaps limited.
func startChild(spec *proto.Spec, argv0 string, env []string, u ExecUser, tty *os.File) (*os.Process, error) {
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	if tty != nil {
		files = []*os.File{tty, tty, tty}
		attr.Setctty, attr.Ctty = true, 0
	}
	if spec.KeepID {
		keepIDAttr(attr, u)
	} else {
		groups := make([]uint32, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = uint32(g)
		}
		attr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups, NoSetGroups: !setgroupsAllowed() || u.KeepGroups}
	}
	if err := setRlimits(spec.Rlimits, true); err != nil {
		return nil, err
	}
	kept, err := keptFDs(spec.KeepFDs)
	if err != nil {
		return nil, err
	}
	files = withKept(files, kept)
	p, err := os.StartProcess(argv0, spec.Args, &os.ProcAttr{Env: env, Files: files, Sys: attr})
	if err != nil {
		code := 126
		if errors.Is(err, unix.ENOENT) {
			code = 127
		}
		return nil, &initError{code, fmt.Errorf("exec: %q: %w", spec.Args[0], err)}
	}
	if err := setNproc(spec.Rlimits, p.Pid); err != nil {
		p.Kill()
		return nil, &initError{125, err}
	}
	return p, nil
}

// keepIDAttr starts a process as u in a new user namespace nested in
// init's, where u's ids are init's 0: what the caller is on the host.
//
// The child makes the namespace itself (unshare, not clone) and so writes
// its one-line maps through /proc/self, which the kernel allows for a map
// of the writer's own ids. With clone, Go's parent would write them
// through /proc/PID, PID as init's namespace numbers it, so the spawner
// of box exec's processes would have to keep init's /proc instead of the
// workload's.
func keepIDAttr(attr *syscall.SysProcAttr, u ExecUser) {
	attr.Unshareflags = syscall.CLONE_NEWUSER
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: u.UID, HostID: 0, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: u.GID, HostID: 0, Size: 1}}
	attr.GidMappingsEnableSetgroups = false
	attr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), NoSetGroups: true}
}

// idError explains a failed switch to an id: usually the id is not mapped
// because the user has no subordinate range (a single mapping has only root).
func idError(kind string, id int, err error) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("switching to %s %d: %s %d is not mapped in the container's user namespace (only ids in your subordinate range are; see box info)", kind, id, kind, id)
	}
	return fmt.Errorf("switching to %s %d: %w", kind, id, err)
}

// setupNetwork configures the container's network namespace: lo for every
// network of its own, and for slirp the TAP, handed to the monitor.
func setupNetwork(spec *proto.Spec) error {
	switch spec.Network {
	case "host":
		return nil
	case "slirp":
		tap, err := tap.Setup(spec.TAP)
		if err != nil {
			return fmt.Errorf("setting up the network: %w", err)
		}
		defer tap.Close()
		sock := os.NewFile(uintptr(spec.NetFD), "net-socket")
		defer sock.Close()
		if err := proto.SendFD(sock, tap); err != nil {
			return fmt.Errorf("passing the network device to box: %w", err)
		}
		return nil
	}
	return tap.LoopbackUp()
}

// splitList is filepath.SplitList (an empty list has no entries; an empty
// entry is the working directory) without path/filepath, which init must
// not import (see doc.go).
func splitList(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, ":")
}
