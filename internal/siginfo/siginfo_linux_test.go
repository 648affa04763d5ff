//go:build linux && (amd64 || arm64)

package siginfo

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the test binary as TestRecords' child when HELPER_HOW
// is set (no test of its own, so nothing is skipped).
func TestMain(m *testing.M) {
	if how := os.Getenv("HELPER_HOW"); how != "" {
		os.Exit(helperKill(how))
	}
	os.Exit(m.Run())
}

// helperKill is the child TestRecords starts: it signals its parent as
// how says, and exits 0 when that worked.
func helperKill(how string) int {
	sig := syscall.SIGUSR1
	var err error
	if how == "queue" {
		err = Queue(os.Getppid(), sig)
	} else {
		err = syscall.Kill(os.Getppid(), sig)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func receive(t *testing.T, c chan os.Signal) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal")
	}
}

func TestRecords(t *testing.T) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(c)
	if _, _, ok := Last(syscall.SIGUSR1); ok {
		t.Fatal("known before Watch")
	}
	if err := Watch(syscall.SIGUSR1, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if err := Watch(syscall.SIGUSR1); err != nil { // again: nothing
		t.Fatal(err)
	}
	if _, _, ok := Last(syscall.SIGUSR1); ok {
		t.Fatal("known before any delivery")
	}

	// Our own kill, then our own rt_sigqueueinfo.
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	receive(t, c)
	if pid, code, ok := Last(syscall.SIGUSR2); !ok || pid != os.Getpid() || code != SIUser {
		t.Errorf("kill: pid %d code %d ok %v, want %d %d", pid, code, ok, os.Getpid(), SIUser)
	}
	if err := Queue(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	receive(t, c)
	if pid, code, ok := Last(syscall.SIGUSR2); !ok || pid != os.Getpid() || code != SIQueue {
		t.Errorf("queue: pid %d code %d ok %v, want %d %d", pid, code, ok, os.Getpid(), SIQueue)
	}

	// A child's kill and sigqueue.
	for _, how := range []string{"kill", "queue"} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "HELPER_HOW="+how)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		child := cmd.Process.Pid
		receive(t, c)
		if err := cmd.Wait(); err != nil {
			t.Fatal(how, err)
		}
		want := int32(SIUser)
		if how == "queue" {
			want = SIQueue
		}
		if pid, code, ok := Last(syscall.SIGUSR1); !ok || pid != child || code != want {
			t.Errorf("%s from child %d: pid %d code %d ok %v, want code %d", how, child, pid, code, ok, want)
		}
	}

	// Many, from another goroutine's thread, while the runtime preempts:
	// the program keeps working and every one is recorded as ours.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			syscall.Kill(os.Getpid(), syscall.SIGUSR2)
			time.Sleep(time.Millisecond)
		}
	}()
	n := 0
	for loop := true; loop; {
		select {
		case <-c:
			n++
			if pid, code, ok := Last(syscall.SIGUSR2); !ok || pid != os.Getpid() || code != SIUser {
				t.Fatalf("burst: pid %d code %d ok %v", pid, code, ok)
			}
		case <-done:
			loop = false
		}
	}
	t.Logf("%d of 200 received (Go merges pending ones)", n)
}

func TestWatchErrors(t *testing.T) {
	if err := Watch(syscall.Signal(99)); err == nil {
		t.Error("signal 99 watched")
	}
	if _, _, ok := Last(syscall.Signal(99)); ok {
		t.Error("Last of 99")
	}
}
