package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// conflicts are, by command, the failures docker documents for
// operations that race: rmi of an image a container uses, or that another
// command removed first; rm -f of a container that is not there. Pulls,
// runs and prunes have none: a prune leaves what is in use.
var conflicts = map[string]*regexp.Regexp{
	"rmi": regexp.MustCompile(`^box: (image \S+ is used by container \S+ \(\w+\): remove it first, or use rmi -f` +
		`|image \S+ is in use by a running container or a pull: stop it first` +
		`|no such image: \S+)$`),
	"rm": regexp.MustCompile(`^box: no such container: \S+$`),
}

// crash matches what the Go runtime writes when box crashes: a panic, a
// fatal error such as "concurrent map writes" (exit status 2), and the
// goroutine dumps that follow either.
var crash = regexp.MustCompile(`^(panic: |fatal error: |goroutine \d+ \[)`)

// judge returns what is wrong with one command's outcome, nothing if it
// succeeded cleanly or failed with a documented conflict. A failure must
// say why in a box: line, and every box: line must be a conflict listed
// for its command; other lines (pull progress) pass, but no line may be
// a crash's, whatever the exit status.
func judge(args []string, failed bool, stderr string) []string {
	var bad []string
	name := "box " + strings.Join(args, " ")
	allowed := conflicts[args[0]]
	conflict := false
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		switch {
		case crash.MatchString(line):
			bad = append(bad, fmt.Sprintf("%s crashed: %s", name, line))
		case !strings.HasPrefix(line, "box:"): // progress
		case allowed != nil && allowed.MatchString(line):
			conflict = true
		default:
			bad = append(bad, fmt.Sprintf("%s: %s", name, line))
		}
	}
	if failed && !conflict && len(bad) == 0 {
		bad = append(bad, fmt.Sprintf("%s failed without a documented conflict:\n%s", name, stderr))
	}
	return bad
}

// cmdMixedOps runs twenty box commands at once, as one user: pulls, run
// --rm, run -d, rm -f of the previous round's containers (and of one that
// never was), rmi and prunes. Each must succeed or fail with a documented
// conflict. "mixed-ops N" is round N: its detached containers are named
// dN-*, and the round removes those of round N-1.
func cmdMixedOps(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mixed-ops ROUND")
	}
	round, err := strconv.Atoi(args[0])
	ts.Check(err)
	reg := ts.Getenv("REGISTRY")
	var ops [][]string
	for i := range 4 {
		img := []string{"multi", "hello", "dangling", "multi"}[i]
		ops = append(ops,
			[]string{"pull", "-q", reg + "/" + img},
			[]string{"run", "--rm", reg + "/" + img, "true"},
			[]string{"run", "-d", "--name", fmt.Sprintf("d%d-%d", round, i), reg + "/hello", "sleep", "100"},
		)
	}
	for i := range 3 {
		ops = append(ops, []string{"rm", "-f", fmt.Sprintf("d%d-%d", round-1, i)})
	}
	ops = append(ops,
		[]string{"rm", "-f", "never-was"},
		[]string{"rmi", reg + "/dangling"},
		[]string{"rmi", reg + "/multi"},
		[]string{"image", "prune", "-a", "-f"},
		[]string{"container", "prune", "-f"},
	)
	type result struct {
		args   []string
		err    error
		stderr string
	}
	results := make([]result, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			cmd := exec.Command("box", op...)
			cmd.Dir = ts.Getenv("WORK")
			cmd.Env = scriptEnv(ts)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			results[i] = result{op, err, stderr.String()}
		})
	}
	wg.Wait()
	var bad []string
	for _, r := range results {
		var ee *exec.ExitError
		if r.err != nil && !errors.As(r.err, &ee) {
			ts.Fatalf("running box %s: %v", strings.Join(r.args, " "), r.err)
		}
		status := "ok"
		if r.err != nil {
			status = r.err.Error()
		}
		fmt.Fprintf(ts.Stdout(), "box %s: %s\n", strings.Join(r.args, " "), status)
		bad = append(bad, judge(r.args, r.err != nil, r.stderr)...)
	}
	if len(bad) > 0 {
		ts.Fatalf("failures other than documented conflicts:\n%s", strings.Join(bad, "\n"))
	}
}

// TestJudge holds mixed-ops to its word: a crash fails it whatever else
// the command printed, and so does a failure that is not a documented
// conflict. (The check it replaced skipped every line not starting with
// "box:" as progress, so a "fatal error: concurrent map writes", exit
// status 2, passed.)
func TestJudge(t *testing.T) {
	for _, c := range []struct {
		args   []string
		failed bool
		stderr string
		ok     bool
	}{
		{[]string{"pull", "-q", "r/x"}, false, "7811ba571a87: pull complete (1.1 MB)\n", true},
		{[]string{"rmi", "r/x"}, true, "box: no such image: r/x\n", true},
		{[]string{"rm", "-f", "d0-1"}, true, "box: no such container: d0-1\n", true},
		{[]string{"rmi", "r/x"}, true, "fatal error: concurrent map writes\n\ngoroutine 7 [running]:\nmain.main()\n", false},
		{[]string{"pull", "-q", "r/x"}, true, "7811ba571a87: pull complete\npanic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n", false},
		{[]string{"run", "--rm", "r/x", "true"}, false, "goroutine 1 [running]:\n", false},
		{[]string{"pull", "-q", "r/x"}, true, "7811ba571a87: pull complete\n", false},
		{[]string{"rm", "-f", "d0-1"}, true, "", false},
		{[]string{"rm", "-f", "d0-1"}, true, "box: no such image: r/x\n", false},
		{[]string{"image", "prune", "-a"}, true, "box: no such image: r/x\n", false},
	} {
		bad := judge(c.args, c.failed, c.stderr)
		if ok := len(bad) == 0; ok != c.ok {
			t.Errorf("box %s (failed %v) with stderr %q: judged ok=%v, want %v: %q", strings.Join(c.args, " "), c.failed, c.stderr, ok, c.ok, bad)
		}
	}
}
