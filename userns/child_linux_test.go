//go:build linux

package userns

// The child side of the namespace tests: the test binary re-executed by
// Start, told what to do by BOX_USERNS_TEST_CHILD.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// testChildEnv makes the test binary act as a namespace child instead of
// running tests; its value picks the behaviour (see TestMain).
const testChildEnv = "BOX_USERNS_TEST_CHILD"

// report is what a "report" child prints as JSON.
type report struct {
	UID, GID, PID  int
	UIDMap, GIDMap string
	Setgroups      string
	CapEff, CapBnd string
	Pdeathsig      int
	UserNS, MntNS  string
	Extra          string // read from fd 3 when BOX_USERNS_TEST_EXTRA is set
	SyncFDLeaked   bool   // fd 4 still open as a socket after ChildInit
	LeftoverEnv    []string
}

// init keeps a child's main goroutine on the main thread (LockOSThread in
// an init function holds for main too): a single mapping's child has no
// ChildInit handshake to lock a thread, and the parent-death signal Go set
// before its execve is the main thread's, which the report reads.
func init() {
	if os.Getenv(testChildEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	switch os.Getenv(testChildEnv) {
	case "":
		os.Exit(m.Run())
	case "report":
		os.Exit(childReport())
	case "hang": // a main that forgets to call ChildInit
		time.Sleep(time.Minute)
		os.Exit(0)
	case "sleep":
		if err := ChildInit(); err != nil {
			fmt.Fprintln(os.Stderr, "ChildInit:", err)
			os.Exit(3)
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	case "intermediate":
		os.Exit(intermediate())
	case "endthread":
		os.Exit(childEndThread())
	}
	fmt.Fprintln(os.Stderr, "unknown", testChildEnv)
	os.Exit(2)
}

func childReport() int {
	if err := ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, "ChildInit:", err)
		return 3
	}
	// First, before the runtime may open descriptors of its own (epoll).
	var st unix.Stat_t
	r := report{SyncFDLeaked: unix.Fstat(4, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK}
	r.UID, r.GID, r.PID = os.Getuid(), os.Getgid(), os.Getpid()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(b)
	}
	r.UIDMap, r.GIDMap = read("/proc/self/uid_map"), read("/proc/self/gid_map")
	r.Setgroups = strings.TrimSpace(read("/proc/self/setgroups"))
	for _, line := range strings.Split(read("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			r.CapEff = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			r.CapBnd = strings.TrimSpace(v)
		}
	}
	r.Pdeathsig = pdeathsig()
	r.UserNS, _ = os.Readlink("/proc/self/ns/user")
	r.MntNS, _ = os.Readlink("/proc/self/ns/mnt")
	if os.Getenv("BOX_USERNS_TEST_EXTRA") != "" {
		b, _ := io.ReadAll(os.NewFile(3, "extra"))
		r.Extra = string(b)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BOX_USERNS_") && !strings.HasPrefix(kv, "BOX_USERNS_TEST_") {
			r.LeftoverEnv = append(r.LeftoverEnv, kv)
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// intermediate starts a sleeping child with the detected mapping, prints
// its pid and waits to be killed, to check the child dies with it.
func intermediate() int {
	m, _, err := Detect()
	if err == nil {
		cmd := childCmd("sleep")
		if err = Start(cmd, m, 0); err == nil {
			fmt.Println(cmd.Process.Pid)
			time.Sleep(time.Minute)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// childEndThread prints the main goroutine's parent-death signal after
// ChildInit and endThread.
func childEndThread() int {
	// As the kernel does on an exec it counts as privilege-raising: the
	// signal Go set before the execve is gone, so only ChildInit's counts.
	unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0)
	if err := ChildInit(); err != nil {
		fmt.Fprintln(os.Stderr, "ChildInit:", err)
		return 3
	}
	endThread()
	fmt.Println(pdeathsig())
	return 0
}

// endThread does what stage code does when a goroutine locked to its
// thread returns without unlocking (fuseoverlay's inDir, pid1's network
// namespace): the runtime ends that thread. With one P, the goroutine runs
// on the thread the caller waits on, unless the caller is locked to it;
// the caller then carries on on another thread.
func endThread() {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(done)
	}()
	<-done
}

func pdeathsig() int {
	var sig int32
	unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0)
	return int(sig)
}

func childCmd(mode string) *exec.Cmd {
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{os.Args[0]}}
	cmd.Env = append(os.Environ(), testChildEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}
