package run

import (
	"os"
	"testing"
)

func TestNsPidsAndParent(t *testing.T) {
	ns, err := nsPids(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) == 0 || ns[0] != os.Getpid() {
		t.Errorf("nsPids(self) = %v, want it to start with %d", ns, os.Getpid())
	}
	if got := parentOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentOf(self) = %d, want %d", got, os.Getppid())
	}
	if _, _, err := workloadPidfd(os.Getpid()); err == nil {
		t.Error("workloadPidfd found a nested PID 1 under the test process")
	}
}
