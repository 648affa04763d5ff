package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// cmdPty runs a program on a pseudo-terminal of the given size, feeding it
// INPUT (a file, or - for none), like a user at a terminal:
//
//	pty [-code N] [-resize RxC] RxC INPUT PROGRAM [ARGS...]
//
// -resize changes the terminal size after a second (SIGWINCH). Everything
// the terminal shows becomes the command's stdout.
func cmdPty(ts *testscript.TestScript, neg bool, args []string) {
	code, resize := 0, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-code":
			fmt.Sscan(args[1], &code)
		case "-resize":
			resize = args[1]
		default:
			ts.Fatalf("pty: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if neg || len(args) < 3 {
		ts.Fatalf("usage: pty [-code N] [-resize RxC] RxC INPUT PROGRAM [ARGS...]")
	}
	master, slave, err := openPty()
	ts.Check(err)
	defer master.Close()
	ts.Check(setSize(master, args[0]))
	path, err := exec.LookPath(args[2])
	if err != nil {
		// Look in the script's PATH (it holds the test binary as box).
		for _, dir := range strings.Split(ts.Getenv("PATH"), ":") {
			if _, err := os.Stat(dir + "/" + args[2]); err == nil {
				path = dir + "/" + args[2]
				break
			}
		}
	}
	cmd := exec.Command(path, args[3:]...)
	cmd.Args[0] = args[2]
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	ts.Check(cmd.Start())
	slave.Close()
	var bg sync.WaitGroup // uses of master: done before the deferred Close
	defer bg.Wait()
	if args[1] != "-" {
		input, err := os.ReadFile(ts.MkAbs(args[1]))
		ts.Check(err)
		bg.Go(func() {
			time.Sleep(300 * time.Millisecond) // let the container start reading
			master.Write(input)
		})
	}
	if resize != "" {
		bg.Go(func() {
			time.Sleep(time.Second)
			setSize(master, resize)
		})
	}
	var out bytes.Buffer
	io.Copy(&out, master) // until EIO: every process on the terminal is gone
	err = cmd.Wait()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("pty: %v", err)
	}
	fmt.Fprint(ts.Stdout(), strings.ReplaceAll(out.String(), "\r", ""))
	if got != code {
		ts.Fatalf("%s exited %d, want %d; terminal showed:\n%s", args[2], got, code, out.String())
	}
}

func openPty() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY))
	if errno != 0 {
		unix.Close(fd)
		return nil, nil, errno
	}
	return os.NewFile(uintptr(fd), "ptmx"), os.NewFile(s, "pts"), nil
}

func setSize(f *os.File, size string) error {
	var rows, cols uint16
	if _, err := fmt.Sscanf(size, "%dx%d", &rows, &cols); err != nil {
		return fmt.Errorf("size %q: want ROWSxCOLS", size)
	}
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// scriptEnv is the environment a script's exec would get.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "DOCKER_CONFIG", "REGISTRY", "STORE", "WORK"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	return env
}

// cmdWaitFile waits for a file to exist (a workload's "ready" mark).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 20s", args[0])
}

// cmdNoProcess fails if a process whose command line contains the marker
// still runs on the host after a grace period (5 s, or WITHIN): nothing may
// leak. Each WITHIN is a duration from now, or MARK+DURATION from the time
// mark MARK recorded; the earliest deadline counts. Negated, it waits (up
// to 20 s) until such a process runs.
func cmdNoProcess(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: no-process WORDS [WITHIN|MARK+WITHIN]...")
	}
	start := time.Now()
	deadline, what := start.Add(5*time.Second), "5s"
	if neg {
		deadline = start.Add(20 * time.Second)
	}
	for i, w := range args[1:] {
		from := start
		if mark, d, ok := strings.Cut(w, "+"); ok {
			from = markTime(ts, mark)
			w = d
		}
		d, err := time.ParseDuration(w)
		ts.Check(err)
		if i == 0 || from.Add(d).Before(deadline) {
			deadline, what = from.Add(d), args[1+i]
		}
	}
	for {
		found := ""
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			// Whole words: "sleep 100" must not match another script's "sleep 1000".
			if err == nil && strings.Contains(" "+strings.ReplaceAll(string(b), "\x00", " "), " "+args[0]+" ") {
				found = e.Name()
			}
		}
		if neg && found != "" {
			return
		}
		if !neg && found == "" {
			ts.Logf("no %q after %v", args[0], time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			if neg {
				ts.Fatalf("no process %q within 20s", args[0])
			}
			cmd, _ := os.ReadFile("/proc/" + found + "/cmdline")
			stat, _ := os.ReadFile("/proc/" + found + "/stat")
			ts.Fatalf("process %s (%q) is still running after %v (%s): %q, stat %s", found, args[0], time.Since(start).Round(10*time.Millisecond), what,
				strings.ReplaceAll(string(cmd), "\x00", " "), strings.TrimSpace(string(stat)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdMark records the time now as mark NAME, which no-process can count
// from (NAME+DURATION).
func cmdMark(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mark NAME")
	}
	ts.Setenv("MARK_"+args[0], strconv.FormatInt(time.Now().UnixNano(), 10))
}

func markTime(ts *testscript.TestScript, name string) time.Time {
	n, err := strconv.ParseInt(ts.Getenv("MARK_"+name), 10, 64)
	if err != nil {
		ts.Fatalf("no mark %q", name)
	}
	return time.Unix(0, n)
}

// cmdSignalBox sends a signal (TERM, HUP, USR1, …) to the "box run" process
// whose command line contains the marker, as a user's kill(1) would.
func cmdSignalBox(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: signal-box SIGNAL MARKER")
	}
	sig := unix.SignalNum("SIG" + args[0])
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[0])
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		// This script's box (its own store), not another script's with
		// the same marker when several suites run at once.
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		mine := strings.Contains("\x00"+string(env), "\x00XDG_DATA_HOME="+ts.Getenv("XDG_DATA_HOME")+"\x00")
		if mine && len(argv) > 2 && filepath.Base(argv[0]) == "box" && argv[1] == "run" && strings.Contains(string(b), args[1]) {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			ts.Check(unix.Kill(pid, sig))
			return
		}
	}
	ts.Fatalf("no box run process with %q", args[1])
}
