package proc

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestGone(t *testing.T) {
	for _, c := range []struct {
		stat string
		gone bool
	}{
		{"S 1 2 2 0 -1 4194560 100 0", false},
		{"R 1 2 2 0 -1 4194304 100 0", false},
		{"Z 1 2 2 0 -1 4227084 100 0", true},
		// A killed init while the kernel empties its PID namespace:
		// sleeping, with PF_EXITING (0x4) set.
		{"S 1 2 2 0 -1 4194564 100 0", true},
		{"S 1", true},
	} {
		if got := gone(strings.Fields(c.stat)); got != c.gone {
			t.Errorf("gone(%q) = %v, want %v", c.stat, got, c.gone)
		}
	}
}

func TestAlive(t *testing.T) {
	boot := BootID()
	self := os.Getpid()
	if !Alive(self, StartTime(self), boot) {
		t.Fatal("this process is not alive")
	}
	if Alive(self, StartTime(self)+1, boot) {
		t.Error("another start time is alive")
	}
	if Alive(self, StartTime(self), "another boot") {
		t.Error("another boot's process is alive")
	}
	// A child that exited and is not reaped yet is not alive.
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid, start := cmd.Process.Pid, StartTime(cmd.Process.Pid)
	for i := 0; State(pid) != "Z"; i++ {
		if i > 500 {
			t.Fatalf("child %d never became a zombie (state %s)", pid, State(pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if Alive(pid, start, boot) {
		t.Error("a zombie is alive")
	}
	cmd.Wait()
	if Alive(pid, start, boot) || State(pid) != "X" {
		t.Error("a reaped child is alive")
	}
}
