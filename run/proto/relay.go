package proto

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// A container run in the foreground, and a process box exec starts
// without a tty, get pipes of box's own for their stdin, stdout and stderr
// (prestart.Config.Relay, pid1.Exec), as docker's do: a
// descriptor of the caller's, handed on, would let the container change
// the caller's terminal (fchmod it, read what is typed there later from a
// process that outlives box) or truncate the file its output was
// redirected to, and would show it a terminal ([ -t 1 ]) it was not given.
// box copies between those pipes and its own descriptors.

// Relay copies a container's output pipes to out and errOut, and in (the
// caller's stdin) to its stdin pipe.
type Relay struct {
	copies sync.WaitGroup // the output copies
	outs   []*os.File     // the output pipes' read ends
}

// StartRelay starts the copies from the read ends stdoutR and stderrR
// (either may be nil: nothing to copy) and to stdinW. in is nil when the
// container reads no stdin (its pipe, if any, is closed at once). The
// caller catches SIGPIPE first (CatchSIGPIPE).
func StartRelay(stdinW, stdoutR, stderrR *os.File, in io.Reader, out, errOut io.Writer) *Relay {
	r := &Relay{outs: []*os.File{stdoutR, stderrR}}
	for i, w := range []io.Writer{out, errOut} {
		src := r.outs[i]
		if src == nil {
			continue
		}
		r.copies.Go(func() {
			if _, err := io.Copy(w, src); err != nil && errors.Is(err, syscall.EPIPE) {
				src.Close() // the container's next write fails as it would have
			}
		})
	}
	if stdinW != nil {
		if in == nil {
			stdinW.Close()
		} else {
			go func() {
				io.Copy(stdinW, in)
				stdinW.Close() // EOF for the container
			}()
		}
	}
	return r
}

// Drain waits for the output copies to end: at once when the container
// is gone, as its processes die with its PID namespace, unless something
// still holds a pipe (a process box exec started left one running); the
// copies are cut after limit.
func (r *Relay) Drain(limit time.Duration) {
	done := make(chan struct{})
	go func() {
		r.copies.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		for _, f := range r.outs {
			if f != nil {
				f.Close()
			}
		}
		<-done
	}
}

// CatchSIGPIPE makes a write to box's stdout or stderr, when they are a
// closed pipe, fail with EPIPE rather than end box with SIGPIPE: the relay
// then closes the container's pipe, whose next write gets what it would
// have had without box in between.
func CatchSIGPIPE() { signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE) }
