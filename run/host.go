package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/box-run/box/internal/proc"
	"github.com/box-run/box/internal/siginfo"
	"github.com/box-run/box/internal/testkill"
	"github.com/box-run/box/run/prestart"
	"github.com/box-run/box/run/proto"

	"github.com/box-run/box/slirp"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// Command re-executes box as stage (see prestart.Command).
func Command(stage string, args ...string) *exec.Cmd { return prestart.Command(stage, args...) }

// Options are what the host stage needs besides the Spec.
type Options struct {
	Spec       *proto.Spec
	Container  *Container
	Containers Containers
	Mapping    userns.Mapping
	Stdin      bool // -i: pass stdin (else the container reads /dev/null)
	// HoldStdin (Spec.OpenStdin, without Stdin): the container's stdin is
	// a pipe that box holds open and never writes, until the container
	// ends, as docker's with nobody attached: `cat` waits, `sh` stays.
	HoldStdin bool
	Remove    bool // --rm
	RemoveAll func(...string) error
	Log       *slog.Logger
	Warn      io.Writer // where the monitor's own warnings go (stderr)
	// Net configures the user-mode network when Spec.Network is "slirp".
	Net slirp.Config
	// Detached (-d): the container's output goes to container.log in its
	// directory, and a container that fails to start is removed.
	Detached bool
	// Started, if set, is called once the container runs.
	Started func()
	// Existing starts a container created before (box start, restarts):
	// its directory, name and upper layer are kept.
	Existing bool
	// Persist, if set, is called with a new container's directory, to keep
	// what box start needs.
	Persist func(dir string) error
	// Prestarted, if set, is an init started ahead (prestart.Take): Run
	// uses it if it fits the container, and ends it otherwise.
	Prestarted *prestart.Launch
	// Anchors are processes the container does not outlive (see Anchor):
	// once one has exited, the container is stopped.
	Anchors []*Anchor
	// KeepFDs are the caller's descriptors the workload gets at the same
	// numbers (--mpi: PMI_FD's).
	KeepFDs []int
	// Stdout, if set, takes a foreground container's output instead of
	// box's stdout (box build -q discards its RUN steps').
	Stdout io.Writer
	// Stderr, if set, takes its error output instead (box run -a).
	Stderr io.Writer
	// InJob: box runs in a Slurm job step. Where Slurm signals every
	// process of the step itself, the container's included (process-tree
	// tracking: scancel -s, the end of the job, srun's ^C), box does not
	// forward a signal slurmstepd sent so (the container has it already);
	// it forwards every other, from timeout, a batch script's kill or
	// Slurm's signals to the batch script's process group (sentToTree).
	InJob bool
}

// Run creates the container, starts its init in new namespaces, monitors it
// (signals, tty) and returns its exit status: N for exit(N), 128+sig when
// killed, 125/126/127 when init could not start the workload.
//
// It runs in phases, each of which pushes its own clean-up: listen on the
// published ports, create the container's directory (first for a
// detached container, whose log lives there; else while init starts),
// launch init or adopt the prestarted one, send the spec, serve the
// network, tty and signals, then wait and record the exit.
func Run(o Options) (status int, err error) {
	r := &runner{Options: o, t0: time.Now(), out: os.Stdout, errOut: os.Stderr, prevStarted: o.Container.Started}
	if o.Stdout != nil {
		r.out = o.Stdout
	}
	if o.Stderr != nil {
		r.errOut = o.Stderr
	}
	defer func() {
		if rerr := r.undo(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	r.push(func() error { r.Prestarted.Abort(); return nil }) // unless adopted
	r.Spec.Dir = o.Containers.Dir(o.Container.ID)
	if r.Spec.Network == "slirp" {
		// From the monitor's network config, also for a container made by
		// a box whose start.json had no TAP config.
		r.Spec.TAP = o.Net.TAP()
	}
	for _, p := range r.Spec.Ports {
		if p.Proto == "udp" && r.Spec.Network != "slirp" {
			return 125, fmt.Errorf("publishing UDP port %d needs the default slirp network", p.ContainerPort)
		}
	}
	if err := r.listenPorts(); err != nil {
		// docker keeps a new container whose port cannot be bound, as
		// created, with why (not --rm's).
		if !r.Existing && !r.Remove {
			r.neverRan = true
			if r.create() == nil {
				r.Container.Error = err.Error()
				r.Containers.Save(r.Container)
			}
		}
		return 125, err // docker run: 125 for a start that fails, unless the command is missing (127) or not executable (126)
	}
	if o.Detached {
		if err := r.create(); err != nil {
			return 125, err
		}
		// box attach's socket: closed after the log's copies end (the
		// clean-ups run last first), so clients get the last output.
		if h, err := listenAttach(r.Spec.Dir); err != nil {
			r.Log.Debug("no attach socket", "err", err)
		} else {
			r.attach = h
			r.push(h.close)
		}
		if err := r.openLog(); err != nil {
			return 125, err
		}
	}
	if err := r.launch(); err != nil {
		return 125, err
	}
	if err := r.sendSpec(); err != nil {
		return 125, err
	}
	r.serve()
	r.watchHealth()
	return r.wait()
}

// runner is one Run: its options, and what each phase made for the next.
type runner struct {
	Options
	t0       time.Time
	cleanups []func() error
	ports    *hostPorts
	made     bool // the container's directory and record exist
	// workloadStarted: a detached container's workload runs (init said
	// so); its reason is reported for one that never did.
	workloadStarted bool
	// failedEarly: init said it failed before it caught signals;
	// neverRan: it failed before the workload ran (StartFailed), which
	// leaves the container "created", as docker does.
	failedEarly, neverRan bool
	prevStarted           time.Time        // when it last started before this run
	out, errOut           io.Writer        // the container's stdout and stderr
	logging               *sync.WaitGroup  // a detached container's log copies
	tees                  []*io.PipeWriter // a foreground one's (teeLog)
	launched              *prestart.Launch
	relay                 *proto.Relay // the foreground container's stdio
	tty                   *ttyHost
	attach                *attachHub // a detached container's box attach clients
	sigs                  chan os.Signal
	caught                chan struct{} // closed once sigs catches signals
	done                  chan struct{} // closed once init has exited
}

// push adds a clean-up; undo runs them last first and returns the first
// error.
func (r *runner) push(f func() error) { r.cleanups = append(r.cleanups, f) }

func (r *runner) undo() error {
	var first error
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		if err := r.cleanups[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// listenPorts opens the host side of the published ports before anything
// of the container exists, so that a port in use fails cleanly.
func (r *runner) listenPorts() error {
	spec := r.Spec
	hp, err := listenPorts(spec.Ports)
	if err != nil {
		return err
	}
	r.push(func() error { hp.close(); return nil })
	r.ports = hp
	for i, c := range hp.udp {
		r.Net.UDPPorts = append(r.Net.UDPPorts, slirp.UDPPort{Conn: c, ContainerPort: hp.udpPorts[i]})
	}
	r.Container.Ports = spec.Ports
	return nil
}

// create makes the container's directory and record (or, for an existing
// container, records it again). On the way out it is removed with --rm,
// and so is a new detached container that never started.
func (r *runner) create() error {
	ct := r.Container
	if r.Existing {
		if err := r.Containers.Save(ct); err != nil {
			return err
		}
	} else {
		// The record names its maker until the monitor takes over, so that
		// a --rm container whose box was killed before it ran is known for
		// an orphan (Orphans) and not taken for one box create made.
		ct.Monitor, ct.MonStart, ct.BootID = os.Getpid(), StartTime(os.Getpid()), BootID()
		dir, err := r.Containers.Create(ct)
		if err != nil {
			return err
		}
		if r.Persist != nil {
			if err := r.Persist(dir); err != nil {
				r.Containers.Remove(ct, r.RemoveAll)
				return err
			}
		}
	}
	if !r.Existing {
		testkill.Point("run-created") // the record and start.json are there
	}
	r.made = true
	r.push(func() error {
		// docker keeps a container whose workload could not start, as
		// created, with why.
		if !r.Remove && (r.Existing || !r.Detached || r.workloadStarted || r.neverRan) {
			return nil
		}
		t := time.Now()
		err := r.Containers.Remove(ct, r.RemoveAll)
		r.Log.Debug("container removed", "took", time.Since(t))
		if r.Remove {
			return err // --rm leaves nothing, or says why
		}
		return nil
	})
	return nil
}

// openLog sends a detached container's output to its log through pipes,
// so each line gets its time and stream and the file can rotate; the
// copies end when the container's last writer does.
func (r *runner) openLog() error {
	log, err := openLog(filepath.Join(r.Spec.Dir, LogName), r.Container.Log)
	if err != nil {
		return err
	}
	r.push(log.Close)
	r.logging = new(sync.WaitGroup)
	r.push(func() error { r.logging.Wait(); return nil })
	for _, stream := range []string{"stdout", "stderr"} {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		r.push(func() error { pw.Close(); return nil }) // also after wait's close: harmless
		var in io.Reader = pr
		if r.attach != nil {
			kind := proto.AttachStdout
			if stream == "stderr" {
				kind = proto.AttachStderr
			}
			in = io.TeeReader(pr, r.attach.writer(kind))
		}
		r.logging.Go(func() {
			defer pr.Close()
			log.copyLines(stream, in)
		})
		if stream == "stdout" {
			r.out = pw
		} else {
			r.errOut = pw
		}
	}
	return nil
}

// teeLog keeps a foreground container's output in its log too, as
// docker keeps every container's, so that box logs shows it after the run
// (not for --rm: the log would go with the container). The relay writes
// to the caller and, through a pipe, to the log's line recorder; wait
// closes the pipes once the relay is drained.
func (r *runner) teeLog() {
	log, err := openLog(filepath.Join(r.Spec.Dir, LogName), r.Container.Log)
	if err != nil {
		r.Log.Debug("no log for a foreground container", "err", err)
		return
	}
	r.push(log.Close)
	r.logging = new(sync.WaitGroup)
	r.push(func() error { r.logging.Wait(); return nil })
	for _, stream := range []string{"stdout", "stderr"} {
		pr, pw := io.Pipe()
		r.tees = append(r.tees, pw)
		r.logging.Go(func() {
			log.copyLines(stream, pr)
			pr.Close()
		})
		if stream == "stdout" {
			r.out = io.MultiWriter(r.out, pw)
		} else {
			r.errOut = io.MultiWriter(r.errOut, pw)
		}
	}
	r.push(r.closeTees)
}

func (r *runner) closeTees() error {
	for _, w := range r.tees {
		w.Close()
	}
	return nil
}

// launch adopts the prestarted init if it fits the container, or starts
// one; the container's directory is made meanwhile if it is not yet.
func (r *runner) launch() error {
	spec := r.Spec
	spec.Stdin = (r.Stdin || r.HoldStdin) && !spec.TTY
	want := prestart.Config{Stdin: spec.Stdin, TTY: spec.TTY, Network: spec.Network, Ports: len(r.ports.tcp) > 0 || r.Container.onUserNetwork(),
		Relay: !r.Detached, Out: r.out, ErrOut: r.errOut, StaysPID1: spec.StaysPID1(), IPCHost: spec.IPCHost, PIDHost: spec.PIDHost, UTSHost: spec.UTSHost}
	for _, fd := range r.KeepFDs {
		want.Inherit = append(want.Inherit, os.NewFile(uintptr(fd), "kept"))
	}
	if spec.PIDHost {
		// Should init be killed (kill -9 of its pid, the OOM killer),
		// what the container leaves comes here rather than to the
		// host's reaper, for proc.EndTree.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("--pid host: becoming the container's reaper: %w", err)
		}
	}
	cg, dropCgroup, err := makeCgroup(r.Container)
	if err != nil {
		return err
	}
	r.push(dropCgroup) // pushed before init's start: undone after it is gone
	want.Cgroup = cg
	if want.Pin, err = r.Container.Cpuset.pin(); err != nil {
		return err // the host's CPUs changed since the container was made
	}
	l := r.Prestarted
	r.Prestarted = nil // adopted or aborted here, not by the clean-up
	if l != nil && !l.Fits(want, r.Mapping) {
		l.Abort()
		l = nil
	}
	prestarted := l != nil
	if !prestarted {
		if l, err = prestart.New(want); err != nil {
			return err
		}
	}
	r.push(func() error { l.Close(); return nil })
	r.launched = l
	if spec.TTY {
		r.tty = newTTYHost(l.TTY, l.TTYChild, r.Stdin, r.out)
		r.push(func() error { r.tty.close(); return nil })
	}
	r.catchSignals()
	if prestarted {
		// init has been starting while box started: only the container's
		// directory is left to make.
		if err := r.create(); err != nil {
			l.Abort()
			return err
		}
	} else {
		var created chan error
		if !r.made {
			created = make(chan error, 1)
			go func() { created <- r.create() }()
		}
		startErr := l.Start(r.Mapping)
		if created != nil {
			if err := <-created; err != nil {
				if startErr == nil {
					l.Abort()
				}
				return err
			}
		}
		if startErr != nil {
			return fmt.Errorf("starting container: %w", startErr)
		}
	}
	spec.TTYFD, spec.NetFD, spec.PortFD = l.TTYFD, l.NetFD, l.PortFD
	spec.KeepFDs = nil
	for i, fd := range r.KeepFDs {
		spec.KeepFDs = append(spec.KeepFDs, proto.FDMap{From: l.InheritFDs[i], To: fd})
	}
	r.Log.Debug("init started", "pid", l.Cmd.Process.Pid, "prestarted", prestarted, "elapsed", time.Since(r.t0))
	testkill.Point("run-init-started") // init waits for its spec
	return nil
}

// catchSignals starts catching the signals the monitor forwards. init
// starts a session of its own, so the container never shares the
// caller's terminal session (TIOCSTI on /dev/tty could type into the
// caller's shell) and terminal signals reach only box, which forwards each
// once. Signals that arrive while the container starts are delivered once
// it runs. Catching them starts the runtime's signal threads (~0.3 ms), so
// that happens while init starts.
func (r *runner) catchSignals() {
	r.sigs, r.caught = make(chan os.Signal, 16), make(chan struct{})
	go func() {
		signal.Notify(r.sigs, forwarded...)
		if r.InJob {
			// Who sent each (sentToTree); unknown if this fails.
			if err := siginfo.Watch(forwarded...); err != nil {
				r.Log.Debug("signal senders unknown", "err", err)
			}
		}
		proto.CatchSIGPIPE()
		close(r.caught)
	}()
	r.push(func() error {
		<-r.caught
		signal.Stop(r.sigs)
		return nil
	})
}

// sendSpec closes init's ends of its descriptors (its copies alone keep
// them open, so the host sees EOF if init dies) and sends the spec, which
// init reads once its runtime is up.
func (r *runner) sendSpec() error {
	l := r.launched
	l.CloseChildEnds()
	spec := r.Spec
	if jobSignals := r.InJob && slurmSignalsTree(); spec.Privileged || jobSignals {
		s := *spec
		if spec.Privileged {
			// The host's device nodes as they are at this start, as
			// docker looks them up: a node gone since (a USB device, a
			// loop device) must not stop a box start.
			s.Devices = withHostDevices(spec.Devices, "/dev")
		}
		s.JobSignals = jobSignals
		spec = &s
	}
	if err := json.NewEncoder(l.SpecW).Encode(spec); err != nil {
		l.Cmd.Process.Kill()
		l.Cmd.Wait()
		return fmt.Errorf("sending spec to init: %w", err)
	}
	l.SpecW.Close()
	return nil
}

// serve forwards published ports, records the container running once init
// catches signals, and serves its network, tty and signals.
func (r *runner) serve() {
	l, ct := r.launched, r.Container
	if l.PortChild != nil {
		fw := &forwarder{sock: l.Port, log: r.Log}
		for i, pl := range r.ports.tcp {
			go fw.serve(pl, r.ports.tcpPorts[i])
		}
		if ct.onUserNetwork() {
			if ln, err := listenPeers(r.Spec.Dir); err != nil {
				fmt.Fprintf(r.Warn, "box: %v\n", err)
			} else {
				r.push(ln.Close)
				if self, err := netip.ParseAddr(ct.Network.IPAddress); err == nil && self.Is4() {
					go servePeers(ln, fw, self)
				}
			}
		}
	}
	// Until init catches signals, one would end it with Go's status 2:
	// wait for its word (or EOF, if it died) before saying it runs.
	v, ok := proto.WaitReady(l.ReadyR) // proto.SignalsCaught, or EOF
	r.failedEarly = ok && v == proto.StartFailed
	pid := l.Cmd.Process.Pid
	os.Remove(filepath.Join(r.Spec.Dir, PausedFile)) // left by a monitor that died paused
	ct.Status, ct.Pid, ct.BootID, ct.Started = "running", pid, BootID(), time.Now().UTC()
	ct.NestedPID = false // until the workload runs (see wait)
	ct.Error = ""
	ct.PidStart = StartTime(pid)
	ct.Monitor, ct.MonStart = os.Getpid(), StartTime(os.Getpid())
	if err := r.Containers.Save(ct); err != nil {
		r.Log.Debug("saving state", "err", err)
	}
	r.Containers.Event("start", ct, nil)
	testkill.Point("run-running") // recorded running, its monitor gone
	r.done = make(chan struct{})
	if r.Spec.Network == "slirp" {
		// Waited for before the socket is closed (pushed earlier, so undone
		// later): once init is gone, a serveNet still waiting for the TAP
		// gets EOF, and the netstack stops with ctx.
		var served sync.WaitGroup
		ctx, stop := context.WithCancel(context.Background())
		r.push(func() error { stop(); served.Wait(); return nil })
		cfg := r.Net
		if ct.onUserNetwork() {
			cfg.Peers = &peers{cs: r.Containers, self: ct}
		}
		served.Go(func() { serveNet(ctx, l.Net, cfg, r.Log) })
	}
	if r.tty != nil {
		go r.tty.serve(pid, r.done, r.Warn)
	}
	if r.attach != nil && r.Spec.OpenStdin {
		// Made with -i: box attach's input reaches its stdin, the pty's
		// or the pipe the monitor holds open.
		switch {
		case r.tty != nil:
			r.attach.setInput(r.tty.input, r.tty.setSize)
		case l.StdinW != nil:
			w := l.StdinW
			r.attach.setInput(func(b []byte) error { _, err := w.Write(b); return err }, nil)
		}
	} else if r.attach != nil && r.tty != nil {
		r.attach.setInput(nil, r.tty.setSize)
	}
	for _, a := range r.Anchors {
		r.watch(a)
	}
	<-r.caught
	go forwardSignals(r.sigs, l.Cmd.Process, r.tty, r.done, r.InJob, r.Spec.StaysPID1())
	if l.StdoutR != nil {
		var in io.Reader
		stdinW := l.StdinW
		if r.Spec.Stdin && r.Stdin {
			in = os.Stdin
		} else if r.HoldStdin {
			stdinW = nil // held open, never written: closed with l
		}
		if !r.Remove {
			r.teeLog()
		}
		r.relay = proto.StartRelay(stdinW, l.StdoutR, l.StderrR, in, r.out, r.errOut)
	}
}

// watch stops the container once the anchor a has exited, as box stop
// does (which also keeps a restart policy from starting it again).
func (r *runner) watch(a *Anchor) {
	gone, err := a.Gone()
	if err != nil {
		r.Log.Debug("not watching", "anchor", a.What, "err", err)
		return
	}
	ct, done := *r.Container, r.done
	go func() {
		// The grace is looked up now, off the start's path: when the job
		// ends, its controller is busy and an answer could come too late.
		grace := a.Grace()
		select {
		case <-done:
		case <-gone:
			// A grace of 0 (the job's end) is a SIGKILL at once.
			r.Log.Debug("anchor exited: stopping the container", "anchor", a.What, "grace", grace)
			r.Containers.Stop(&ct, grace)
		}
	}()
}

// wait waits for init to exit and records the exit. A detached
// container's init stays as PID 1 and says when the workload runs (after
// the pty, served above, is sized); EOF instead means it failed, and its
// reason is the log's last line. A workload nested in init's PID
// namespace is recorded as such then.
func (r *runner) wait() (int, error) {
	l, ct := r.launched, r.Container
	started, sawFailed := false, r.failedEarly
	if !sawFailed && (r.Started != nil || r.Spec.NestedPID()) {
		v, ok := proto.WaitReady(l.ReadyR)
		sawFailed = ok && v == proto.StartFailed
		if started = ok && v == proto.WorkloadStarted; started {
			if r.Spec.NestedPID() {
				// Recorded before box run -d returns, so that a box kill
				// after it reaches the workload.
				ct.NestedPID = true
				if err := r.Containers.Save(ct); err != nil {
					r.Log.Debug("saving state", "err", err)
				}
			}
			if r.Started != nil {
				r.Started()
				r.workloadStarted = true
			}
		}
	}
	werr := l.Cmd.Wait()
	if r.Spec.PIDHost {
		// init ends the container's processes itself when its workload
		// ends; one killed otherwise leaves them to the monitor, a
		// child subreaper for them.
		proc.EndTree(time.Second)
	}
	close(r.done)
	if err := removeCgroup(ct); err != nil {
		r.Log.Debug("container's cgroup kept", "err", err) // for box rm, or box system check
	}
	if r.relay != nil {
		r.relay.Drain(2 * time.Second)
		if r.tees != nil {
			r.closeTees()
			r.logging.Wait()
		}
	}
	if r.tty != nil {
		r.tty.drain()
	}
	if r.Detached {
		// Our ends of the log pipes: the copies end once the container's
		// last writer is gone too.
		r.out.(io.Closer).Close()
		r.errOut.(io.Closer).Close()
		r.logging.Wait()
	}
	status := exitStatus(l.Cmd.ProcessState, werr)
	// An init that failed before the workload ran says so, and why, on
	// the ready pipe (in the exec path the exec closes it): the container
	// stays "created" with the reason, as docker's.
	why, neverRan := "", false
	if !started {
		why, neverRan = proto.ReadFailure(l.ReadyR, sawFailed)
	}
	var failed error
	if r.Started != nil && !r.workloadStarted {
		// The workload never ran: give init's reason, as box run without
		// -d shows it, before --rm takes the log away.
		if why == "" {
			why = lastLogLine(filepath.Join(r.Spec.Dir, LogName))
		}
		failed = errors.New(why)
	}
	r.Log.Debug("container exited", "status", status, "elapsed", time.Since(r.t0))
	os.Remove(filepath.Join(r.Spec.Dir, PausedFile)) // a paused container killed
	ct.Status, ct.ExitCode, ct.Finished, ct.Error = "exited", status, time.Now().UTC(), ""
	if neverRan {
		// "created" while it never ran, as docker's; one that ran before
		// stays exited, with the reason. Either way it did not start now.
		ct.Error, r.neverRan, ct.Started = why, true, r.prevStarted
		if r.prevStarted.IsZero() {
			ct.Status = "created"
		}
	}
	r.Containers.Event("die", ct, map[string]string{"exitCode": strconv.Itoa(status)})
	if !r.Remove {
		if err := r.Containers.Save(ct); err != nil {
			return status, fmt.Errorf("saving container state: %w", err)
		}
	} else if err := r.Containers.RecordRemovedExit(ct.ID, status); err != nil {
		r.Log.Debug("keeping the exit status", "err", err)
	}
	return status, failed
}

// forwarded are the signals the monitor passes on to the container's PID 1.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// In a Slurm job step on a node where Slurm signals the whole process
// tree, a signal slurmstepd sent so reached the container too, and is not
// forwarded (sentToTree). Where init stays between box and the workload,
// box forwards with rt_sigqueueinfo (SI_QUEUE) rather than kill
// (SI_USER), so that init, in a job, tells box's forwards, which it passes
// on, from Slurm's own kill of every process, which it does not (see
// proto.Spec.JobSignals).
func forwardSignals(sigs chan os.Signal, p *os.Process, tty *ttyHost, done chan struct{}, inJob, initStays bool) {
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			if s == syscall.SIGWINCH && tty != nil {
				tty.resize() // the kernel signals the pty's foreground group
				continue
			}
			if inJob && slurmSignalsTree() && sentToTree(s) {
				continue
			}
			if sig, ok := s.(syscall.Signal); ok && initStays && siginfo.Queue(p.Pid, sig) == nil {
				continue
			}
			p.Signal(s)
		}
	}
}

// exitStatus maps how init ended to docker's exit status.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 125
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 125
	}
	return ps.ExitCode()
}

// serveNet receives the container's TAP from init and runs the user-mode
// network on it until the container is gone.
func serveNet(ctx context.Context, sock *os.File, cfg slirp.Config, log *slog.Logger) {
	tap, err := proto.RecvFD(sock, "tap")
	if err != nil {
		return // init failed before the network was up; it says why
	}
	defer tap.Close()
	cfg.Logger = log
	if err := slirp.Serve(ctx, tap, cfg); err != nil {
		log.Debug("network stopped", "err", err)
	}
}
