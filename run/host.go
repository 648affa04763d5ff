package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/box-run/box/run/pid1"
	"github.com/box-run/box/run/prestart"

	"github.com/box-run/box/slirp"
	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

// Command re-executes box as stage (see prestart.Command).
func Command(stage string, args ...string) *exec.Cmd { return prestart.Command(stage, args...) }

// Options are what the host stage needs besides the Spec.
type Options struct {
	Spec       *Spec
	Container  *Container
	Containers Containers
	Mapping    userns.Mapping
	Stdin      bool // -i: pass stdin (else the container reads /dev/null)
	Remove     bool // --rm
	RemoveAll  func(...string) error
	Log        *slog.Logger
	Warn       io.Writer // where the monitor's own warnings go (stderr)
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
}

// Run creates the container, starts its init in new namespaces, monitors it
// (signals, tty) and returns its exit status: N for exit(N), 128+sig when
// killed, 125/126/127 when init could not start the workload.
func Run(o Options) (status int, err error) {
	t0 := time.Now()
	pre := o.Prestarted // ended on the way out unless taken below
	defer func() { pre.Abort() }()
	ct, spec := o.Container, o.Spec
	if len(spec.Ports) > 0 && spec.Network != "slirp" {
		for _, p := range spec.Ports {
			if p.Proto == "udp" {
				return 125, fmt.Errorf("publishing UDP port %d needs the default slirp network", p.ContainerPort)
			}
		}
	}
	hp, err := listenPorts(spec.Ports)
	if err != nil {
		return 126, err // docker's status for a port it cannot bind
	}
	defer hp.close()
	for i, c := range hp.udp {
		o.Net.UDPPorts = append(o.Net.UDPPorts, slirp.UDPPort{Conn: c, ContainerPort: hp.udpPorts[i]})
	}
	ct.Ports = spec.Ports
	// The container's directory and record are made while init starts (a
	// Go runtime start in new namespaces, which waits for the spec), except
	// for a detached container, whose log is in that directory from the
	// start.
	made := false
	create := func() error {
		if o.Existing {
			if err := o.Containers.Save(ct); err != nil {
				return err
			}
			made = true
			return nil
		}
		dir, err := o.Containers.Create(ct)
		if err != nil {
			return err
		}
		if o.Persist != nil {
			if err := o.Persist(dir); err != nil {
				o.Containers.Remove(ct, o.RemoveAll)
				return err
			}
		}
		made = true
		return nil
	}
	overlap := !o.Detached
	if !overlap {
		if err := create(); err != nil {
			return 125, err
		}
	}
	dir := o.Containers.Dir(ct.ID)
	spec.Dir = dir
	if spec.Network == "slirp" {
		// From the monitor's network config, also for a container made by
		// a box whose start.json had no TAP config.
		spec.TAP = o.Net.TAP()
	}
	out, errOut := os.Stdout, os.Stderr
	started, workloadStarted := false, false
	var logging sync.WaitGroup
	if o.Detached {
		log, err := openLog(filepath.Join(dir, LogName))
		if err != nil {
			return 125, err
		}
		defer log.Close()
		// Through pipes, so each line gets its time and stream and the file
		// can rotate; the copies end when the container's last writer does.
		for _, stream := range []string{"stdout", "stderr"} {
			r, w, err := os.Pipe()
			if err != nil {
				return 125, err
			}
			defer w.Close()
			logging.Add(1)
			go func() {
				defer logging.Done()
				defer r.Close()
				log.copyLines(stream, r)
			}()
			if stream == "stdout" {
				out = w
			} else {
				errOut = w
			}
		}

		if !o.Remove && !o.Existing {
			defer func() {
				if !started {
					o.Containers.Remove(ct, o.RemoveAll)
				}
			}()
		}
	}
	if o.Remove {
		// Removal also when setup fails half way: --rm leaves nothing.
		defer func() {
			if !made {
				return
			}
			t := time.Now()
			if rerr := o.Containers.Remove(ct, o.RemoveAll); rerr != nil && err == nil {
				err = rerr
			}
			o.Log.Debug("container removed", "took", time.Since(t))
		}()
	}

	spec.Stdin = o.Stdin && !spec.TTY
	want := prestart.Config{Stdin: spec.Stdin, TTY: spec.TTY, Network: spec.Network, Ports: len(hp.tcp) > 0, Out: out, ErrOut: errOut, StaysPID1: spec.StaysPID1()}
	l := pre
	pre = nil
	if l != nil && !l.Fits(want, o.Mapping) {
		l.Abort()
		l = nil
	}
	prestarted := l != nil
	if !prestarted {
		if l, err = prestart.New(want); err != nil {
			return 125, err
		}
	}
	defer l.Close()
	cmd := l.Cmd
	spec.TTYFD, spec.NetFD, spec.PortFD = l.TTYFD, l.NetFD, l.PortFD
	var tty *ttyHost
	if spec.TTY {
		tty = newTTYHost(l.TTY, l.TTYChild, o.Stdin, out)
		defer tty.close()
	}
	// init starts a session of its own, so the container never shares the
	// caller's terminal session (TIOCSTI on /dev/tty could type into the
	// caller's shell) and terminal signals reach only box, which forwards
	// each once. Signals that arrive while the container starts are
	// delivered once it runs. Catching them starts the runtime's signal
	// threads (~0.3 ms), so that happens while init starts.
	sigs, caught := make(chan os.Signal, 16), make(chan struct{})
	go func() {
		signal.Notify(sigs, forwarded...)
		close(caught)
	}()
	defer func() {
		<-caught
		signal.Stop(sigs)
	}()

	var startErr error
	if prestarted {
		// init has been starting while box started: only the container's
		// directory is left to make.
		if err := create(); err != nil {
			l.Abort()
			return 125, err
		}
	} else {
		var created chan error
		if overlap {
			created = make(chan error, 1)
			go func() { created <- create() }()
		}
		startErr = l.Start(o.Mapping)
		if overlap {
			if err := <-created; err != nil {
				if startErr == nil {
					l.Abort()
				}
				return 125, err
			}
		}
	}
	if startErr != nil {
		return 125, fmt.Errorf("starting container: %w", startErr)
	}
	specW, readyR, netSock, portSock, portChild := l.SpecW, l.ReadyR, l.Net, l.Port, l.PortChild
	l.CloseChildEnds()
	// init reads the spec once its runtime is up.
	if err := json.NewEncoder(specW).Encode(spec); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return 125, fmt.Errorf("sending spec to init: %w", err)
	}
	specW.Close()
	o.Log.Debug("init started", "pid", cmd.Process.Pid, "prestarted", prestarted, "elapsed", time.Since(t0))
	if portChild != nil {
		fw := &forwarder{sock: portSock, log: o.Log}
		for i, l := range hp.tcp {
			go fw.serve(l, hp.tcpPorts[i])
		}
	}

	// Until init catches signals, one would end it with Go's status 2:
	// wait for its byte (or EOF, if it died) before saying it runs.
	readyR.Read(make([]byte, 1))
	ct.Status, ct.Pid, ct.BootID = "running", cmd.Process.Pid, BootID()
	ct.PidStart = StartTime(ct.Pid)
	ct.Monitor, ct.MonStart = os.Getpid(), StartTime(os.Getpid())
	if err := o.Containers.Save(ct); err != nil {
		o.Log.Debug("saving state", "err", err)
	}
	started = true
	done := make(chan struct{})
	if spec.Network == "slirp" {
		// Done before the socket is closed (deferred above): once init is
		// gone, a serveNet still waiting for the TAP gets EOF, and the
		// netstack stops with ctx.
		var served sync.WaitGroup
		defer served.Wait()
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		served.Go(func() { serveNet(ctx, netSock, o.Net, o.Log) })
	}
	if tty != nil {
		go tty.serve(cmd.Process.Pid, done, o.Warn)
	}
	<-caught
	go forwardSignals(sigs, cmd.Process, tty, done)
	if o.Started != nil {
		// A detached container's init stays as PID 1 and says when the
		// workload runs (after the pty, served above, is sized); EOF means
		// it failed, and its reason is in the log.
		if n, _ := readyR.Read(make([]byte, 1)); n == 1 {
			o.Started()
			workloadStarted = true
		}
	}
	werr := cmd.Wait()
	close(done)
	if tty != nil {
		tty.drain()
	}
	if o.Detached {
		// Our ends of the log pipes: the copies end once the container's
		// last writer is gone too.
		out.Close()
		errOut.Close()
		logging.Wait()
	}
	status = exitStatus(cmd.ProcessState, werr)
	var failed error
	if o.Started != nil && !workloadStarted {
		// The workload never ran: give init's reason, as box run without
		// -d shows it, before --rm takes the log away.
		failed = errors.New(lastLogLine(filepath.Join(dir, LogName)))
	}
	o.Log.Debug("container exited", "status", status, "elapsed", time.Since(t0))
	ct.Status, ct.ExitCode, ct.Finished = "exited", status, time.Now().UTC()
	if !o.Remove {
		if err := o.Containers.Save(ct); err != nil {
			return status, fmt.Errorf("saving container state: %w", err)
		}
	}
	return status, failed
}

// forwarded are the signals the monitor passes on to the container's PID 1.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

func forwardSignals(sigs chan os.Signal, p *os.Process, tty *ttyHost, done chan struct{}) {
	for {
		select {
		case <-done:
			return
		case s := <-sigs:
			if s == syscall.SIGWINCH && tty != nil {
				tty.resize() // the kernel signals the pty's foreground group
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
	tap, err := pid1.RecvFD(sock)
	if err != nil {
		return // init failed before the network was up; it says why
	}
	defer tap.Close()
	cfg.Logger = log
	if err := slirp.Serve(ctx, tap, cfg); err != nil {
		log.Debug("network stopped", "err", err)
	}
}

func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child"), nil
}
