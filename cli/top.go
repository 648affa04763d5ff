package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

type topCmd struct {
	Container string   `arg:"" help:"Container name or id." predictor:"container"`
	PsArgs    []string `arg:"" optional:"" passthrough:"" help:"ps options (default -ef)." placeholder:"PS-OPTIONS"`
}

// Run shows the container's processes as docker top does: the host's ps
// with the options given (-ef if none), its lines for the container's
// processes only, found by their PID column.
func (c *topCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	pids, err := ct.Processes()
	if err != nil {
		return withStatus(1, err)
	}
	args := c.PsArgs
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	ps, err := exec.LookPath("ps")
	if err != nil {
		return withStatus(1, errors.New("box top runs the host's ps, which is not on PATH (Debian's procps has it)"))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(ps, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return withStatus(1, fmt.Errorf("ps %s: %v: %s", strings.Join(args, " "), err, msg))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return withStatus(1, fmt.Errorf("ps %s shows no PID column", strings.Join(args, " ")))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			fmt.Println(l)
		}
	}
	cs.Event("top", ct, nil)
	return nil
}
