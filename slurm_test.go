package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/run"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// cmdSlurmReady fails unless a Slurm controller answers and a node is ready
// to run jobs: the job tests need the one-node Slurm that .ci/run starts
// (.ci/slurm), and are never skipped. It sets KILLWAIT to the cluster's
// KillWait and BOUND to KillWait + 5 s, the time within which the issue
// wants a job's containers gone, as a duration ("10s").
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
				setKillWait(ts)
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
// the suites: a store directory the user with subordinate ids fills in a
// run of its own (fill, with BOX_CI_SHARED_FILL set), which .ci/run then
// makes readable and mounts read-only for both users' suites, which read
// it (read). Fails outside that set-up.
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
		ts.Fatalf("%s is not mounted read-only: .ci/run mounts it so after filling it, before the suites", dir)
	}
}

// setKillWait sets KILLWAIT and BOUND (see cmdSlurmReady) from scontrol.
func setKillWait(ts *testscript.TestScript) {
	out, err := exec.Command("scontrol", "show", "config").Output()
	ts.Check(err)
	m := regexp.MustCompile(`(?m)^KillWait\s*=\s*(\d+) sec`).FindSubmatch(out)
	if m == nil {
		ts.Fatalf("no KillWait in scontrol show config")
	}
	kw, _ := strconv.Atoi(string(m[1]))
	ts.Setenv("KILLWAIT", strconv.Itoa(kw))
	ts.Setenv("BOUND", fmt.Sprintf("%ds", kw+5))
	ts.Logf("KillWait %d s: bound %s", kw, ts.Getenv("BOUND"))
}

// cmdWaitJobEnding waits until Slurm's job (its id in FILE) is no longer
// pending or running, at most WITHIN: it is completing (Slurm has sent
// the signals that end it: scancel, the time limit) or gone. The moment
// bounds like BOUND count from.
func cmdWaitJobEnding(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-job-ending FILE WITHIN")
	}
	id := strings.TrimSpace(strings.Split(ts.ReadFile(args[0]), ";")[0])
	within, err := time.ParseDuration(args[1])
	ts.Check(err)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command("squeue", "-h", "-j", id, "-o", "%T").Output()
		switch st := strings.TrimSpace(string(out)); st {
		case "PENDING", "RUNNING", "CONFIGURING":
		default:
			ts.Logf("job %s: %q", id, st)
			return
		}
	}
	ts.Fatalf("job %s still pending or running after %s", id, within)
}

// cmdWaitStatus waits until the container NAME is recorded exited, or
// removed, or either (stopped: a --rm container whose box was killed before
// it could remove it is removed by the next box command), at most WITHIN:
// its processes vanishing does not mean box has recorded it yet.
func cmdWaitStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || (args[1] != "exited" && args[1] != "removed" && args[1] != "stopped") {
		ts.Fatalf("usage: wait-status NAME exited|removed|stopped WITHIN")
	}
	within, err := time.ParseDuration(args[2])
	ts.Check(err)
	cs := run.Containers{Root: filepath.Join(ts.Getenv("STORE"), "containers")}
	start := time.Now()
	status := ""
	for {
		ct, err := cs.Lookup(args[0])
		switch {
		case errors.Is(err, run.ErrNoContainer):
			status = "removed"
		case err != nil:
			status = err.Error()
		default:
			status = ct.Status
		}
		if status == args[1] || (args[1] == "stopped" && (status == "exited" || status == "removed")) {
			ts.Logf("%s %s after %v", args[0], status, time.Since(start).Round(10*time.Millisecond))
			return
		}
		if time.Since(start) > within {
			ts.Fatalf("container %s is %s, not %s, after %s", args[0], status, args[1], within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdNothingLeft waits until nothing of the containers whose files are
// under DIR (the script's store, $STORE) is left, at most WITHIN (default
// 0: now): no process whose command line names DIR (fuse-overlayfs
// daemons) and no mount of DIR in any mount namespace this user can read
// (its own processes', whose mount namespaces cannot be seen from
// outside). Negated, it waits (up to 5 s) until something is found: a
// check that the check sees a running container.
func cmdNothingLeft(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: nothing-left DIR [WITHIN]")
	}
	dir := filepath.Clean(args[0])
	var within time.Duration
	if len(args) == 2 {
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		within = d
	}
	if neg {
		within = 5 * time.Second
	}
	deadline := time.Now().Add(within)
	for {
		left := leftUnder(dir)
		if neg && left != "" {
			ts.Logf("found %s", left)
			return
		}
		if !neg && left == "" {
			return
		}
		if time.Now().After(deadline) {
			if neg {
				ts.Fatalf("no process or mount of %s found", dir)
			}
			ts.Fatalf("left after %v: %s", within, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftUnder describes the first process whose command line, or mount
// table, names dir, or is "".
func leftUnder(dir string) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == strconv.Itoa(os.Getpid()) {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(b, []byte(dir)) {
			return fmt.Sprintf("process %s: %s", e.Name(), strings.ReplaceAll(string(b), "\x00", " "))
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/mountinfo")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, dir) {
				return fmt.Sprintf("mount in process %s's namespace: %s", e.Name(), l)
			}
		}
	}
	return ""
}
