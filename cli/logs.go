package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/box-run/box/run"
)

type logsCmd struct {
	Follow     bool   `short:"f" help:"Keep printing new output until the container exits."`
	Tail       string `short:"n" help:"Print only the last N lines (all: every line)." default:"all" placeholder:"N"`
	Since      string `help:"Only lines written since: a time (2026-12-04T10:00:00Z, 2026-12-04) or a duration before now (10m, 1h30m)." placeholder:"WHEN"`
	Until      string `help:"Only lines written before: as --since." placeholder:"WHEN"`
	Timestamps bool   `short:"t" help:"Show when each line was written."`
	Container  string `arg:"" help:"Container name or id." predictor:"container"`

	since, until time.Time
}

// rfc3339NanoFixed is docker's timestamp of logs -t (jsonmessage's
// RFC3339NanoFixed): always nine digits of the second, so lines align.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// logTime reads --since and --until as docker does: an RFC 3339 time or
// date (UTC), Unix seconds, or a Go duration before now.
func logTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid %s %q: want a time (2026-12-04T10:00:00Z) or a duration (10m)", flag, v)
}

// Run prints a container's kept output (see run.teeLog): its stdout to stdout, its
// stderr to stderr, as docker logs does.
func (c *logsCmd) Run(g *globals) error {
	tail := -1
	if c.Tail != "all" {
		n, err := strconv.Atoi(c.Tail)
		if err != nil || n < 0 {
			return withStatus(125, fmt.Errorf("invalid --tail %q: want a number of lines or all", c.Tail))
		}
		tail = n
	}
	now := time.Now()
	var err error
	if c.since, err = logTime("--since", c.Since, now); err != nil {
		return withStatus(125, err)
	}
	if c.until, err = logTime("--until", c.Until, now); err != nil {
		return withStatus(125, err)
	}
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	if ct.Log != nil && ct.Log.Driver == "none" {
		return withStatus(1, errors.New("configured logging driver does not support reading")) // docker's
	}
	path := filepath.Join(cs.Dir(ct.ID), run.LogName)
	var lines []string
	var off int64 // how much of the current file the lines take
	for _, p := range ct.Log.Files(path) {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if p == path && c.Follow {
			// Whole lines only: the follow below prints a partial one
			// once its end is written.
			b = b[:bytes.LastIndexByte(b, '\n')+1]
			off = int64(len(b))
		}
		lines = append(lines, splitLines(string(b))...)
	}
	lines = slices.DeleteFunc(lines, func(l string) bool { return !c.within(l) })
	if tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		c.print(l)
	}
	if !c.Follow {
		return nil
	}
	// Follow the current file from where the read above ended, not from
	// its size now: what the container wrote in between (its last line,
	// as it exits) would be lost. After a rotation it starts again from
	// its beginning.
	for {
		// The state first, the file after: the monitor has written all
		// of a container's output before it records the exit, so the
		// pass after seeing it exited prints everything.
		cur, err := cs.Lookup(ct.ID)
		exited := err != nil || cur.Status != "running"
		// --until ends the follow once it is past, as docker's does,
		// after one more pass for what came before it.
		exited = exited || !c.until.IsZero() && !time.Now().Before(c.until)
		readNewLines(path, &off, func(line string) bool {
			if c.within(line) {
				c.print(line)
			}
			return true
		})
		if exited {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readNewLines calls line for each whole line of the log at path from
// *off on (a partial last line waits for its end), moving *off past each
// it takes; line returns false to leave a line, and those after it, for
// later. A file shorter than *off was rotated: it is read from its start.
func readNewLines(path string, off *int64, line func(string) bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < *off {
		*off = 0
	}
	f.Seek(*off, io.SeekStart)
	br := bufio.NewReader(f)
	for {
		l, err := br.ReadString('\n')
		if err != nil || !line(strings.TrimSuffix(l, "\n")) {
			return
		}
		*off += int64(len(l))
	}
}

// within tells whether a log line was written in --since and --until.
func (c *logsCmd) within(line string) bool {
	if c.since.IsZero() && c.until.IsZero() {
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, run.ParseLogLine(line).Time)
	if err != nil {
		return true
	}
	return (c.since.IsZero() || !t.Before(c.since)) && (c.until.IsZero() || t.Before(c.until))
}

func (c *logsCmd) print(line string) {
	r := run.ParseLogLine(line)
	w := os.Stdout
	if r.Stream == "stderr" {
		w = os.Stderr
	}
	if c.Timestamps {
		ts := r.Time
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ts = t.UTC().Format(rfc3339NanoFixed)
		}
		fmt.Fprintf(w, "%s %s", ts, r.Line())
		return
	}
	io.WriteString(w, r.Line())
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
