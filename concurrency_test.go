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
		[]string{"image", "prune", "-a"},
		[]string{"container", "prune"},
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
		allowed := conflicts[r.args[0]]
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if !strings.HasPrefix(line, "box:") || allowed != nil && allowed.MatchString(line) { // progress, or a conflict
				continue
			}
			bad = append(bad, fmt.Sprintf("box %s: %s", strings.Join(r.args, " "), line))
		}
		if r.err != nil && strings.TrimSpace(r.stderr) == "" {
			bad = append(bad, fmt.Sprintf("box %s: %v, and said nothing", strings.Join(r.args, " "), r.err))
		}
	}
	if len(bad) > 0 {
		ts.Fatalf("failures other than documented conflicts:\n%s", strings.Join(bad, "\n"))
	}
}
