package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/box-run/box/run"
	"github.com/box-run/box/run/proto"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/net/dns/dnsmessage"
)

// cmdServeTCP runs a line server on the host's 127.0.0.1 for this script:
// it answers each connection's first line L with "got L" and closes.
// Sets VAR to its port.
func cmdServeTCP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-tcp VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "got %s\n", strings.TrimSpace(line))
			}()
		}
	}()
	ts.Setenv(args[0], fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
}

// cmdServeDNS runs a DNS server on the host's 127.0.0.1 (UDP) answering A
// queries for NAME with IP: serve-dns VAR NAME IP. Sets VAR to its port.
func cmdServeDNS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: serve-dns VAR NAME IP")
	}
	ip, err := netip.ParseAddr(args[2])
	ts.Check(err)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { pc.Close() })
	want := strings.TrimSuffix(args[1], ".") + "."
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			h.Response, h.Authoritative = true, true
			b := dnsmessage.NewBuilder(nil, h)
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if strings.EqualFold(q.Name.String(), want) && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip.As4()})
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	ts.Setenv(args[0], fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
}

// cmdHTTPGet fetches http://127.0.0.1:PORT/ from the host, retrying while the
// container's server starts: http-get PORT.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: http-get PORT")
	}
	var lastErr error
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://127.0.0.1:" + args[0] + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if neg {
				ts.Fatalf("got %q from port %s, want no answer", b, args[0])
			}
			fmt.Fprint(ts.Stdout(), string(b))
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	if !neg {
		ts.Fatalf("http-get %s: %v", args[0], lastErr)
	}
}

// cmdPortOf sets VAR to the host port box published for the container
// port: port-of CONTAINER 80/tcp VAR (reads "box port" output from stdout).
func cmdPortOf(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: port-of CONTAINERPORT/PROTO VAR (after exec box port)")
	}
	for _, line := range strings.Split(ts.ReadFile("stdout"), "\n") {
		if rest, ok := strings.CutPrefix(line, args[0]+" -> "); ok {
			_, port, _ := net.SplitHostPort(rest)
			ts.Setenv(args[1], port)
			return
		}
	}
	ts.Fatalf("no %s in box port's output", args[0])
}

// cmdWaitRunning waits until the named container is running (its monitor
// started init and recorded it).
func cmdWaitRunning(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[1] != "exec") {
		ts.Fatalf("usage: wait-running NAME [exec]")
	}
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	for i := 0; i < 400; i++ {
		if ct, err := cs.Lookup(args[0]); err == nil && ct.Status == "running" {
			// The record says running as init starts; box exec needs
			// the socket init makes then.
			if len(args) == 1 {
				return
			}
			if _, err := os.Stat(filepath.Join(cs.Dir(ct.ID), proto.ExecSocket)); err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("container %s did not start within 20s", args[0])
}

// cmdUDPSend sends MESSAGE to 127.0.0.1:PORT and prints the reply,
// retrying while the container's server starts: udp-send PORT MESSAGE.
func cmdUDPSend(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: udp-send PORT MESSAGE")
	}
	c, err := net.Dial("udp", "127.0.0.1:"+args[0])
	ts.Check(err)
	defer c.Close()
	buf := make([]byte, 65536)
	for i := 0; i < 50; i++ {
		c.Write([]byte(args[1]))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			fmt.Fprintln(ts.Stdout(), string(buf[:n]))
			return
		}
	}
	ts.Fatalf("no UDP reply from port %s", args[0])
}

// cmdKillMonitor SIGKILLs the monitor of a detached container (init's parent).
func cmdKillMonitor(ts *testscript.TestScript, neg bool, args []string) {
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	ct, err := cs.Lookup(args[0])
	ts.Check(err)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ct.Pid))
	ts.Check(err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	ts.Check(err)
	ts.Check(syscall.Kill(ppid, syscall.SIGKILL))
}

// cmdSetBootID rewrites a container's recorded boot id, as a reboot would
// make it stale.
func cmdSetBootID(ts *testscript.TestScript, neg bool, args []string) {
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	ct, err := cs.Lookup(args[0])
	ts.Check(err)
	// Keep the process (it is real) but make the record another boot's:
	// kill it first so nothing lingers, then write the stale record.
	syscall.Kill(ct.Pid, syscall.SIGKILL)
	for i := 0; i < 100; i++ {
		if cur, err := cs.Lookup(args[0]); err == nil && cur.Status != "running" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ct.Status, ct.BootID = "running", args[1]
	ts.Check(cs.Save(ct))
}

// cmdBuildStatic compiles the main package of the module in DIR (from the
// script's archive) into a static binary OUT, with the Go toolchain and
// build cache the tests run under: build-static DIR OUT.
func cmdBuildStatic(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: build-static DIR OUT")
	}
	cmd := exec.Command("go", "build", "-o", ts.MkAbs(args[1]), ".")
	cmd.Dir = ts.MkAbs(args[0])
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("go build in %s: %v\n%s", args[0], err, out)
	}
}

// cmdServeUDPSink runs a UDP socket on the host's 127.0.0.1 that reads
// everything and answers nothing: a flood's target, or a DNS server that
// is down. Sets VAR to its port: serve-udp-sink VAR.
func cmdServeUDPSink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve-udp-sink VAR")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	ts.Setenv(args[0], fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
}

// cmdMonitorUsage prints the open descriptors and the resident memory of
// a running container's monitor and fails past the limits:
// monitor-usage NAME MAXFDS MAXRSS_MIB. Descriptors are sampled for a
// second and the most seen counts; memory is the kernel's peak resident
// size of the process (VmHWM), so it covers everything before too.
func cmdMonitorUsage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: monitor-usage NAME MAXFDS MAXRSS_MIB")
	}
	maxFDs, err := strconv.Atoi(args[1])
	ts.Check(err)
	maxRSS, err := strconv.Atoi(args[2])
	ts.Check(err)
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	ct, err := cs.Lookup(args[0])
	ts.Check(err)
	if ct.Monitor == 0 {
		ts.Fatalf("container %s has no monitor recorded", args[0])
	}
	proc := fmt.Sprintf("/proc/%d/", ct.Monitor)
	fds := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		ents, err := os.ReadDir(proc + "fd")
		ts.Check(err)
		fds = max(fds, len(ents))
	}
	status, err := os.ReadFile(proc + "status")
	ts.Check(err)
	kib := func(field string) int {
		for _, l := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(l, field+":"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
				return n
			}
		}
		ts.Fatalf("no %s in %sstatus", field, proc)
		return 0
	}
	rss, anon, peak := kib("VmRSS")>>10, kib("RssAnon")>>10, kib("VmHWM")>>10
	fmt.Fprintf(ts.Stdout(), "monitor: %d descriptors, %d MiB resident (%d MiB anonymous), %d MiB at most\n", fds, rss, anon, peak)
	if fds > maxFDs || peak > maxRSS {
		ts.Fatalf("monitor over its budget: %d descriptors (max %d), peak %d MiB resident (max %d)", fds, maxFDs, peak, maxRSS)
	}
}

// cmdServeUnix answers on a unix socket: each connection's first line comes
// back as "TAG: LINE" (a fake ssh agent, D-Bus bus or Wayland
// compositor): serve-unix PATH TAG.
func cmdServeUnix(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve-unix PATH TAG")
	}
	p := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o700))
	l, err := net.Listen("unix", p)
	ts.Check(err)
	answer(ts, l, args[1])
}

// answer answers each connection on l's first line L with "TAG: L" until
// the script ends.
func answer(ts *testscript.TestScript, l net.Listener, tag string) {
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprintf(c, "%s: %s\n", tag, strings.TrimSpace(line))
			}()
		}
	}()
}

// cmdServeDisplay is an X server's socket as Xorg and Xwayland have it on
// Linux besides the file: abstract, @/tmp/.X11-unix/XN, in the host's
// network namespace, for a free display number N (from 5000), which it
// sets VAR to. It answers as serve-unix does.
func cmdServeDisplay(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: serve-display VAR TAG")
	}
	for n := 5000; n < 6000; n++ {
		l, err := net.Listen("unix", fmt.Sprintf("@/tmp/.X11-unix/X%d", n))
		if err != nil {
			continue
		}
		ts.Setenv(args[0], strconv.Itoa(n))
		answer(ts, l, args[1])
		return
	}
	ts.Fatalf("no free display number from 5000 to 5999")
}

// cmdXauthFile writes an Xauthority file holding one MIT-MAGIC-COOKIE-1
// entry COOKIE for display NUM of FAMILY: "local" (256) for this host by
// its name, as xauth and display managers write it, or "wild" (65535)
// for any host.
func cmdXauthFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: xauth-file PATH local|wild NUM COOKIE")
	}
	family, addr := uint16(256), ""
	switch args[1] {
	case "local":
		h, err := os.Hostname()
		ts.Check(err)
		addr = h
	case "wild":
		family = 65535
	default:
		ts.Fatalf("family %q: local or wild", args[1])
	}
	b := []byte{byte(family >> 8), byte(family)}
	for _, f := range []string{addr, args[2], "MIT-MAGIC-COOKIE-1", args[3]} {
		b = append(b, byte(len(f)>>8), byte(len(f)))
		b = append(b, f...)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o600))
}
