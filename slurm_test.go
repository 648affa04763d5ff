package main

import (
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// cmdSlurmReady fails unless a Slurm controller answers and a node is ready
// to run jobs: the job tests need the one-node Slurm that .ci/run starts
// (.ci/slurm), and are never skipped.
func cmdSlurmReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: slurm-ready")
	}
	var out []byte
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err = exec.Command("sinfo", "-h", "-o", "%t").CombinedOutput()
		for _, s := range strings.Fields(string(out)) {
			if s == "idle" || s == "mix" || s == "alloc" {
				return
			}
		}
	}
	ts.Fatalf("no Slurm node is ready (sinfo: %q, %v): the job tests need the one-node Slurm of .ci/slurm (sudo bash .ci/slurm)", out, err)
}

// cmdWaitJob waits until Slurm's job (its id in FILE, as sbatch --parsable
// prints it) has ended, at most WITHIN.
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-job FILE WITHIN")
	}
	id := strings.TrimSpace(strings.Split(ts.ReadFile(args[0]), ";")[0])
	within, err := time.ParseDuration(args[1])
	ts.Check(err)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, _ := exec.Command("squeue", "-h", "-j", id, "-o", "%T").Output()
		if strings.TrimSpace(string(out)) == "" {
			return
		}
	}
	ts.Fatalf("job %s still queued or running after %s", id, within)
}

// cmdSharedCIReady sets BOX_CI_SHARED from the environment .ci/run gives
// the suites: a store directory the user with subordinate ids fills in its
// run, which .ci/run then makes readable and mounts read-only for the user
// without them, whose run reads it. Fails outside that set-up.
func cmdSharedCIReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || (args[0] != "fill" && args[0] != "read") {
		ts.Fatalf("usage: shared-ci-ready fill|read")
	}
	dir := os.Getenv("BOX_CI_SHARED")
	if dir == "" {
		ts.Fatalf("BOX_CI_SHARED is not set: this test runs in .ci/run's two-user suite (sudo bash .ci/run)")
	}
	ts.Setenv("BOX_CI_SHARED", dir)
	if args[0] == "fill" {
		ts.Check(unix.Access(dir, unix.W_OK))
		return
	}
	var st unix.Statfs_t
	ts.Check(unix.Statfs(dir, &st))
	if st.Flags&unix.ST_RDONLY == 0 {
		ts.Fatalf("%s is not mounted read-only: .ci/run mounts it so after the first user's suite", dir)
	}
}
