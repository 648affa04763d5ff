package slirp

// The namespace tests: the test binary re-executes itself into a new user
// and network namespace (userns.Start with CLONE_NEWNET). The child calls
// tap.Setup, sends the TAP to the parent over a socketpair and runs a
// scenario against servers the parent runs on the host's loopback; the
// parent runs Serve on the TAP it received.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/box-run/box/slirp/tap"

	"github.com/box-run/box/userns"
	"golang.org/x/sys/unix"
)

const (
	childEnv  = "BOX_SLIRP_TEST_CHILD"  // the scenario the child runs
	targetEnv = "BOX_SLIRP_TEST_TARGET" // the address it talks to
	sizeEnv   = "BOX_SLIRP_TEST_BYTES"  // bytes for the throughput scenarios
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	if err := userns.ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, "ChildInit:", err)
		os.Exit(3)
	}
	if err := child(os.Getenv(childEnv), os.Getenv(targetEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child sets the TAP up, hands it over on fd 3 and runs the scenario.
func child(scenario, target string) error {
	dev, err := tap.Setup(DefaultConfig().TAP())
	if err != nil {
		return err
	}
	sock := os.NewFile(3, "handover")
	err = unix.Sendmsg(3, []byte{0}, unix.UnixRights(int(dev.Fd())), nil, 0)
	dev.Close()
	sock.Close()
	if err != nil {
		return fmt.Errorf("sending the TAP: %w", err)
	}
	f, ok := scenarios[scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	return f(target)
}

// netResult is what runChild reports.
type netResult struct {
	childErr error
	serveErr error
	stderr   string
}

// runChild starts a namespace child running scenario against target and
// serves its network with cfg until the child exits.
func runChild(t *testing.T, cfg Config, scenario, target string, extraEnv ...string) netResult {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Fatal("the namespace tests exercise the rootless path: run them as an unprivileged user, not as root")
	}
	m, _, err := userns.Detect()
	if err != nil {
		t.Fatalf("detecting the id mapping: %v", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "handover")
	defer parentSock.Close()
	childSock := os.NewFile(uintptr(fds[1]), "handover-child")

	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{os.Args[0]}, Stderr: &stderr, Stdout: &stderr}
	cmd.Env = append(os.Environ(), childEnv+"="+scenario, targetEnv+"="+target)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.ExtraFiles = []*os.File{childSock}
	err = userns.Start(cmd, m, unix.CLONE_NEWNET)
	childSock.Close()
	if err != nil {
		t.Fatalf("starting the namespace child (mapping %s): %v", m, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	tap, err := receiveFD(parentSock)
	if err != nil {
		cmd.Process.Kill()
		<-exited
		t.Fatalf("receiving the TAP from the child: %v\nchild output:\n%s", err, stderr.String())
	}
	defer tap.Close()

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, tap, cfg) }()

	var r netResult
	select {
	case r.childErr = <-exited:
	case r.serveErr = <-served:
		cmd.Process.Kill()
		r.childErr = <-exited
		r.stderr = stderr.String()
		cancel()
		return r
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		r.childErr = fmt.Errorf("timed out: %v", <-exited)
	}
	r.stderr = stderr.String()
	cancel()
	select {
	case r.serveErr = <-served:
	case <-time.After(30 * time.Second):
		var stacks strings.Builder
		pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		r.serveErr = fmt.Errorf("Serve did not return 30s after its context was cancelled; goroutines:\n%s", stacks.String())
	}
	return r
}

// mustSucceed fails the test unless both the child and Serve succeeded.
func (r netResult) mustSucceed(t *testing.T) {
	t.Helper()
	if r.childErr != nil {
		t.Fatalf("namespace child failed: %v\nchild output:\n%s", r.childErr, r.stderr)
	}
	if r.serveErr != nil {
		t.Fatalf("Serve: %v\nchild output:\n%s", r.serveErr, r.stderr)
	}
}

// receiveFD reads one descriptor passed with SCM_RIGHTS.
func receiveFD(sock *os.File) (*os.File, error) {
	c, err := net.FileConn(sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	uc.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("no descriptor in the message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("no descriptor in the message (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), "tap"), nil
}

// hostAliasTarget is HostAlias with the port of a host loopback listener.
func hostAliasTarget(addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	return net.JoinHostPort(DefaultConfig().HostAlias.String(), port)
}

// tcpEcho runs an echo server on the host's loopback and counts accepts.
func tcpEcho(t *testing.T) (net.Listener, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln, &n
}

func TestTCPToHostLoopback(t *testing.T) {
	ln, _ := tcpEcho(t)
	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true
	runChild(t, cfg, "tcp", hostAliasTarget(ln.Addr())).mustSucceed(t)
}

func TestHostLoopbackRefused(t *testing.T) {
	ln, accepted := tcpEcho(t)
	cfg := DefaultConfig() // AllowHostLoopback false
	runChild(t, cfg, "refused", hostAliasTarget(ln.Addr())).mustSucceed(t)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host loopback server accepted %d connections, want 0", n)
	}
}

// TestCraftedLoopbackFrames has root in the container write raw frames to
// 127.0.0.1 and 0.0.0.0, which its kernel would never route to tap0, and
// then one to the host alias: only the last may reach the host's loopback.
func TestCraftedLoopbackFrames(t *testing.T) {
	ln, accepted := tcpEcho(t)
	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	runChild(t, cfg, "crafted", port).mustSucceed(t)
	time.Sleep(100 * time.Millisecond)
	if n := accepted.Load(); n != 1 {
		t.Errorf("the host loopback server accepted %d connections, want 1 (from the host alias only)", n)
	}
}

func TestUDPToHostLoopback(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true
	runChild(t, cfg, "udp", hostAliasTarget(pc.LocalAddr())).mustSucceed(t)
}

func TestDNS(t *testing.T) {
	addr := startDNSServer(t)
	cfg := DefaultConfig()
	cfg.DNS = []string{addr}
	runChild(t, cfg, "dns", "").mustSucceed(t)
}

// TestDNSFallback puts a dead upstream first: the relay must move on.
func TestDNSFallback(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	cfg := DefaultConfig()
	cfg.DNS = []string{dead.LocalAddr().String(), startDNSServer(t)}
	runChild(t, cfg, "dns-udp", "").mustSucceed(t)
}

func TestThroughput(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	if s := os.Getenv(sizeEnv); s != "" {
		size, _ = strconv.ParseInt(s, 10, 64)
	}
	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true

	t.Run("container-to-host", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		type res struct {
			n int64
			d time.Duration
		}
		got := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- res{}
				return
			}
			defer c.Close()
			start := time.Now()
			n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{c}, make([]byte, 1<<20))
			got <- res{n, time.Since(start)}
		}()
		runChild(t, cfg, "send", hostAliasTarget(ln.Addr()), sizeEnv+"="+strconv.FormatInt(size, 10)).mustSucceed(t)
		r := <-got
		if r.n != size {
			t.Fatalf("host received %d bytes, want %d", r.n, size)
		}
		t.Logf("container→host: %d MiB in %v: %.2f Gbit/s", size>>20, r.d.Round(time.Millisecond), float64(size)*8/r.d.Seconds()/1e9)
	})

	t.Run("host-to-container", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			io.CopyBuffer(struct{ io.Writer }{c}, io.LimitReader(zeros{}, size), make([]byte, 1<<20))
		}()
		r := runChild(t, cfg, "receive", hostAliasTarget(ln.Addr()), sizeEnv+"="+strconv.FormatInt(size, 10))
		r.mustSucceed(t)
		t.Logf("host→container: %s", strings.TrimSpace(r.stderr))
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestServeEndsHalfClosedFlows: a flow the container has half-closed
// waits on the host peer, which here never closes: Serve must still end
// when its context does.
func TestServeEndsHalfClosedFlows(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	held := make(chan net.Conn, 1)
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		held <- c
		b, _ := io.ReadAll(c) // to the container's half-close; then nothing
		got <- string(b)
	}()
	cfg := DefaultConfig()
	cfg.AllowHostLoopback = true
	runChild(t, cfg, "half-close", hostAliasTarget(ln.Addr())).mustSucceed(t)
	if b := <-got; b != "bye" {
		t.Errorf("the host read %q, want bye", b)
	}
}
