// Package forward proxies the host's sockets a shell enter brings (an ssh
// agent, a D-Bus bus) into the shell's run directory for the enter's life.
// It is apart from package shell for package net, which initialises late
// (see package cli/quick).
package forward

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/box-run/box/internal/accept"
	"github.com/box-run/box/shell"
)

// Proxy listens at each forward's name in dir and splices every connection
// to its target, until the returned stop is called (which removes the
// sockets and copies, and waits for nothing: open connections end with
// the enter). Copies are copied into dir (shell.WriteCopies).
func Proxy(dir string, e shell.Enter) (stop func(), err error) {
	var ls []net.Listener
	made, err := shell.WriteCopies(dir, e.Copies)
	stop = func() {
		for _, l := range ls {
			l.Close()
		}
		for _, p := range made {
			os.Remove(p)
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	if len(e.Forwards) == 0 {
		return stop, nil
	}
	// The run directory's path may be longer than a socket address
	// (108 bytes): bind through a descriptor of it instead.
	d, err := os.Open(dir)
	if err != nil {
		stop()
		return nil, err
	}
	defer d.Close()
	for _, f := range e.Forwards {
		p := filepath.Join(dir, f.Name)
		os.Remove(p)
		l, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), f.Name))
		if err != nil {
			stop()
			return nil, fmt.Errorf("forwarding %s: %w", f.Target, err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		ls, made = append(ls, l), append(made, p)
		go serve(l, f.Target)
	}
	return stop, nil
}

// maxConns caps the connections one forward splices at once: a container
// that opens more has the excess closed, rather than growing box's
// goroutines and descriptors without bound.
const maxConns = 256

// serve splices each connection on l to target until l is closed. Running
// out of descriptors or memory (accept.Passing) is waited out: giving up
// would end the forward for the enter's life.
func serve(l net.Listener, target string) {
	slots := make(chan struct{}, maxConns)
	var b accept.Backoff
	for {
		c, err := accept.Accept(l, &b, nil)
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			c.Close() // too many at once
			continue
		}
		go func() {
			defer func() { <-slots }()
			defer c.Close()
			t, err := net.Dial("unix", target)
			if err != nil {
				return
			}
			defer t.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(dst, src)
				dst.(*net.UnixConn).CloseWrite()
			}
			go pipe(t, c)
			go pipe(c, t)
			wg.Wait()
		}()
	}
}
