package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/box-run/box/run"
)

type logsCmd struct {
	Follow     bool   `short:"f" help:"Keep printing new output until the container exits."`
	Tail       int    `help:"Print only the last N lines." default:"-1" placeholder:"N"`
	Timestamps bool   `short:"t" help:"Show when each line was written."`
	Container  string `arg:"" help:"Container name or id." predictor:"container"`
}

// Run prints a detached container's output: its stdout to stdout, its
// stderr to stderr, as docker logs does.
func (c *logsCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	path := filepath.Join(cs.Dir(ct.ID), run.LogName)
	var lines []string
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err == nil {
			lines = append(lines, splitLines(string(b))...)
		}
	}
	if c.Tail >= 0 && c.Tail < len(lines) {
		lines = lines[len(lines)-c.Tail:]
	}
	for _, l := range lines {
		c.print(l)
	}
	if !c.Follow {
		return nil
	}
	// Follow the current file from where it ended; after a rotation it
	// starts again from its beginning.
	var off int64
	if fi, err := os.Stat(path); err == nil {
		off = fi.Size()
	}
	for {
		// The state first, the file after: the monitor has written all
		// of a container's output before it records the exit, so the
		// pass after seeing it exited prints everything.
		cur, err := cs.Lookup(ct.ID)
		exited := err != nil || cur.Status != "running"
		f, err := os.Open(path)
		if err == nil {
			if fi, err := f.Stat(); err == nil && fi.Size() < off {
				off = 0
			}
			f.Seek(off, io.SeekStart)
			br := bufio.NewReader(f)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					break // a partial line waits for its end
				}
				off += int64(len(line))
				c.print(strings.TrimSuffix(line, "\n"))
			}
			f.Close()
		}
		if exited {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *logsCmd) print(line string) {
	r := run.ParseLogLine(line)
	w := os.Stdout
	if r.Stream == "stderr" {
		w = os.Stderr
	}
	if c.Timestamps {
		fmt.Fprintf(w, "%s %s\n", r.Time, r.Text)
		return
	}
	fmt.Fprintln(w, r.Text)
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
