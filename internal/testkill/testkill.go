// Package testkill lets box's tests cut a command short at a named point
// of its work, deterministically, to check what it leaves behind
// (testscripts/faults_ops.txtar). It is for tests only: nothing in box sets
// its variables, and a user has no reason to.
//
// _BOX_TEST_KILL_AT=STEP makes the box process that reaches the point STEP
// kill itself with SIGKILL there; the variable passes, as any other, to
// the processes box starts (a detached container's monitor, box's stages),
// so a point in the monitor works from box run -d's environment. With
// _BOX_TEST_KILL_MARK=FILE as well, FILE is created first, so that a test
// knows the point was reached.
//
// The cost when unset is one os.Getenv as the package initialises and a
// string comparison at each point.
package testkill

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Env and MarkEnv are the variables' names.
const (
	Env     = "_BOX_TEST_KILL_AT"
	MarkEnv = "_BOX_TEST_KILL_MARK"
)

var at = os.Getenv(Env)

// Armed reports whether the test asked for a kill at step.
func Armed(step string) bool { return at != "" && at == step }

// Point kills the process at step if the test asked for it.
func Point(step string) {
	if Armed(step) {
		Kill()
	}
}

// Kill marks the point reached and SIGKILLs the process.
func Kill() {
	if mark := os.Getenv(MarkEnv); mark != "" {
		if f, err := os.Create(mark); err == nil {
			f.Close()
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL to oneself is delivered before kill(2) returns
}

// RemoveSome removes every other file (not directory) below root, for a
// point part way through the removal of a tree: what a removal killed
// half way leaves.
func RemoveSome(root string) {
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if n%2 == 0 {
				os.Remove(p)
			}
			n++
		}
		return nil
	})
}
