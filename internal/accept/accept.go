// Package accept is the accept loop's back-off that box's host-side
// listeners share (published ports, box shell's socket forwards), where
// what connects is a container that may be hostile.
package accept

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// Passing reports whether an accept error is passing: the process out of
// descriptors (EMFILE), the system out of them (ENFILE), out of buffers or
// memory (ENOBUFS, ENOMEM). A container can bring each about by opening
// and holding many connections; it ends when they close.
func Passing(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff is the wait between accepts that fail: from 5 ms, doubling up
// to a second, and back to none once one succeeds. The connection waits
// in the listen backlog meanwhile.
type Backoff struct{ delay time.Duration }

// Wait sleeps the next delay and returns it.
func (b *Backoff) Wait() time.Duration {
	b.delay = min(max(2*b.delay, 5*time.Millisecond), time.Second)
	time.Sleep(b.delay)
	return b.delay
}

// Reset starts the delays again from the shortest.
func (b *Backoff) Reset() { b.delay = 0 }

// Accept returns l's next connection, waiting out passing errors with b;
// any other error (net.ErrClosed once l is closed) is returned. retry, if
// set, is told of each error waited out.
func Accept(l net.Listener, b *Backoff, retry func(err error, delay time.Duration)) (net.Conn, error) {
	for {
		c, err := l.Accept()
		if err == nil {
			b.Reset()
			return c, nil
		}
		if !Passing(err) {
			return nil, err
		}
		d := b.Wait()
		if retry != nil {
			retry(err, d)
		}
	}
}
