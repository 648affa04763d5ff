package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

type logsCmd struct {
	Follow    bool   `short:"f" help:"Keep printing new output until the container exits."`
	Tail      int    `help:"Print only the last N lines." default:"-1" placeholder:"N"`
	Container string `arg:"" help:"Container name or id."`
}

// Run prints a detached container's output (stdout and stderr, as written).
func (c *logsCmd) Run(g *globals) error {
	cs, ct, err := g.container(c.Container)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(cs.Root, ct.ID, "container.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil // not detached: its output went to the caller's terminal
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if c.Tail >= 0 {
		if err := seekTail(f, c.Tail); err != nil {
			return err
		}
	}
	for {
		if _, err := io.Copy(os.Stdout, f); err != nil {
			return err
		}
		if !c.Follow {
			return nil
		}
		if ct, err := cs.Lookup(ct.ID); err != nil || ct.Status != "running" {
			_, err := io.Copy(os.Stdout, f) // what came in before it exited
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int) error {
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	_, err = f.Seek(int64(tailOffset(b, n)), io.SeekStart)
	return err
}

// tailOffset is where the last n lines of b begin.
func tailOffset(b []byte, n int) int {
	if n == 0 {
		return len(b)
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for range n {
		j := bytes.LastIndexByte(b[:end], '\n')
		if j < 0 {
			return 0
		}
		end = j
	}
	return end + 1
}
